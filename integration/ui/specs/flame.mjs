// The flame graph viewer (/profile): from /targets, follow the healthy
// target's flame graph link; the inline SVG shows the served profile's
// functions, a click zooms (inferno's script widens the frame and records
// x/y in the URL), the search box highlights matches, "Reset zoom" undoes
// the zoom, the sample type switch (when the profile has more than one)
// shows another type, and the folded download holds the same functions.

const FRAME = "#frames > g";

/** Width of a frame's rect in percent (inferno writes "12.3%"), or NaN. */
async function width(page, selector) {
  return page.$eval(selector, (g) => parseFloat(g.querySelector("rect").getAttribute("width")));
}

export default async function ({ page, baseURL, screenshot, assert, fixtures }) {
  await page.goto(`${baseURL}/targets`);
  const healthy = fixtures && fixtures.healthy;
  const rows = page.locator("tr", { has: page.locator('a[href^="/profile?"]') });
  const row = healthy ? rows.filter({ hasText: healthy }).first() : rows.first();
  const link = row.locator('a[href^="/profile?"]').first();
  const href = await link.getAttribute("href");
  assert.match(href, /^\/profile\?receiver=[^&]+&job=\d+&type=[^&]+/);
  await Promise.all([page.waitForURL(/\/profile\?/), link.click()]);

  // The inline flame graph, drawn from the served Go profile.
  await page.waitForSelector(`.fg-svg svg ${FRAME}`);
  const svgText = await page.$eval(".fg-svg svg", (s) => s.textContent);
  assert.ok(/runtime\.gopark|runtime\.main|main\.main/.test(svgText), "a function of the served profile");
  assert.ok(!(await page.content()).includes("<script>alert(1)</script>"), "labels escaped");
  await screenshot("flame");

  // Click-to-zoom: pick the widest frame that is not already full width.
  const picked = await page.$$eval(FRAME, (gs) => {
    let best = -1, bestW = 0;
    gs.forEach((g, i) => {
      const r = g.querySelector("rect");
      const w = r ? parseFloat(r.getAttribute("width")) : 0;
      if (w > bestW && w < 90 && w > 1) { best = i; bestW = w; }
    });
    if (best >= 0) gs[best].setAttribute("data-spec-zoom", "1");
    return best;
  });
  assert.ok(picked >= 0, "a frame narrower than the graph to zoom into");
  const target = `${FRAME}[data-spec-zoom]`;
  const before = await width(page, target);
  await page.click(target);
  await page.waitForFunction(() => /[?&]x=/.test(location.search));
  const after = await width(page, target);
  assert.ok(after > before, `zoomed: width ${before}% -> ${after}%`);
  assert.ok(!(await page.$eval("#unzoom", (e) => e.classList.contains("hide"))), "inferno's Reset Zoom shows");
  await screenshot("zoomed");

  // Reset zoom from the page's button.
  await page.click("#fg-unzoom");
  await page.waitForFunction(() => !/[?&]x=/.test(location.search));
  assert.equal(await width(page, target), before, "unzoomed");

  // Search: matches get highlighted and inferno reports the share matched.
  await page.fill("#fg-term", "runtime");
  await page.waitForFunction(() => /Matched/.test(document.getElementById("matched").textContent));
  assert.match(page.url(), /[?&]s=runtime/);
  await screenshot("search");
  await page.fill("#fg-term", "");
  await page.waitForFunction(() => document.getElementById("matched").classList.contains("hide"));

  // The folded download has the same functions.
  const folded = await page.request.get(`${baseURL}${href}&format=folded`);
  assert.equal(folded.status(), 200);
  const text = await folded.text();
  assert.ok(/^\S.* \d+$/m.test(text), "folded lines");
  assert.ok(/runtime\.gopark|runtime\.main|main\.main/.test(text));

  // Sample type switch (a goroutine profile has one type: then only the
  // current type is shown, in bold).
  const others = page.locator("a.fg-type");
  if ((await others.count()) > 0) {
    const name = await others.first().textContent();
    await Promise.all([page.waitForURL(/sample_type=/), others.first().click()]);
    await page.waitForSelector(`.fg-svg svg ${FRAME}`);
    assert.equal(await page.textContent(".fg-types b"), name, "switched sample type");
    await screenshot("sample-type");
  } else {
    assert.equal(await page.locator(".fg-types b").count(), 1, "the current sample type");
  }
}
