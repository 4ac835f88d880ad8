// /targets: summary counts, filters, the folded error, relative times, a
// label holding <script> shown as text, and an auto-refresh that keeps the
// scroll position, the filter and the open <details>.
export default async function ({ page, baseURL, screenshot, assert, sleep, dialogs, fixtures }) {
  await page.goto(`${baseURL}/targets`);
  const rows = page.locator("tr.t");
  assert.equal(await rows.count(), 3, "one row per target × profile type");
  const row = (addr) => page.locator("tr.t", { hasText: addr });
  assert.equal(await row(fixtures.healthy).getAttribute("data-health"), "up");
  assert.equal(await row(fixtures.failing).getAttribute("data-health"), "down");

  // Summary: exact for what the rows say (the flapping target is up or down).
  const up = await page.locator("tr.t[data-health=up]").count();
  assert.ok(up === 1 || up === 2, `up rows: ${up}`);
  const receiver = page.locator(`section.receiver[data-receiver="${fixtures.receiver}"] h2 .sum`);
  assert.equal(await receiver.textContent(), `${up}/3 up`);
  assert.ok((await page.locator("tr.gh .sum").allTextContents()).every((s) => /^\d+\/\d+ up$/.test(s)));

  // Readable at 1280 px without horizontal scrolling.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);

  // Relative times with the absolute time on hover; durations in ms.
  const time = row(fixtures.healthy).locator("time.ago");
  await page.waitForTimeout(1100); // the script's tick has run
  assert.match(await time.textContent(), /^\d+(\.\d)?s ago$|^\d+m \d+s ago$/);
  assert.match(await time.getAttribute("title"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(await row(fixtures.healthy).locator("td.num").first().textContent(), /^\d+\.\d ms$/);

  // The <script> label renders as text, and no dialog fired.
  const labels = row(fixtures.healthy).locator("details").first();
  await labels.locator("summary").click();
  assert.ok((await labels.textContent()).includes(`evil="${fixtures.evil}"`));
  assert.equal(await page.locator("main script").count(), 0, "no script element from data");
  assert.deepEqual(dialogs, []);

  // The failing target's error: first line as summary, all of it when unfolded.
  const err = row(fixtures.failing).locator("details.err");
  // profcol reports the body's start on one line: "… body starts with "boom: <b>bad</b> …"".
  const [first] = fixtures.error.split("\n");
  const summary = await err.locator("summary").textContent();
  assert.match(summary, /HTTP status 500/);
  assert.ok(summary.includes(first), summary);
  assert.equal(await err.locator("pre").isVisible(), false, "folded at first");
  await err.locator("summary").click();
  assert.equal(await err.locator("pre").isVisible(), true);
  const full = await err.locator("pre").textContent();
  assert.ok(full.includes(first) && full.includes("second line of the error"), full);
  assert.equal(await err.locator("pre b, pre i").count(), 0, "markup in the error stays text");
  await screenshot("targets");

  // The flame graph slot.
  const href = await row(fixtures.healthy).locator("a.flame").getAttribute("href");
  assert.match(href, /^\/profile\?receiver=pyroscope_scrape%2Fui&job=\d+&type=goroutine$/);

  // Filter by state.
  const visible = async () => (await rows.evaluateAll((rs) => rs.filter((r) => !r.hidden).map((r) => r.dataset.health)));
  await page.selectOption("#f-state", "down");
  let shown = await visible();
  assert.ok(shown.length >= 1 && shown.every((h) => h === "down"), `down filter: ${shown}`);
  assert.equal(await row(fixtures.healthy).isVisible(), false);
  assert.equal(await row(fixtures.failing).isVisible(), true);
  await page.selectOption("#f-state", "up");
  shown = await visible();
  assert.ok(shown.length === up && shown.every((h) => h === "up"), `up filter: ${shown}`);
  await page.selectOption("#f-state", "unknown");
  assert.deepEqual(await visible(), []);
  assert.match(await page.locator("#f-count").textContent(), /^0 of 3 rows shown$/);
  await page.selectOption("#f-state", "");
  assert.equal((await visible()).length, 3);

  // Free text (a URL, then a label value seen only inside folded labels).
  await page.fill("#f-text", fixtures.failing);
  assert.equal((await visible()).length, 1);
  assert.equal(await row(fixtures.failing).isVisible(), true);
  await page.fill("#f-text", "<script>");
  assert.equal((await visible()).length, 1);
  assert.equal(await row(fixtures.healthy).isVisible(), true);
  await screenshot("filtered");

  // Auto-refresh: a short window so that the page scrolls; keep filter,
  // open details and scroll position across the next refresh.
  await page.fill("#f-text", "");
  await page.selectOption("#f-state", "down");
  await page.setViewportSize({ width: 1280, height: 260 });
  await page.evaluate(() => window.scrollTo(0, 120));
  const y = await page.evaluate(() => window.scrollY);
  assert.ok(y > 0, "the page scrolls in a short window");
  const before = await page.evaluate(() => {
    document.getElementById("targets-content").dataset.old = "1";
    return Number(document.body.dataset.refreshes || 0);
  });
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes || 0) > n, before, { timeout: 15000 });
  assert.equal(await page.evaluate(() => document.getElementById("targets-content").dataset.old), undefined, "content replaced");
  assert.equal(await page.evaluate(() => window.scrollY), y, "scroll position kept");
  assert.equal(await page.inputValue("#f-state"), "down");
  assert.equal(await row(fixtures.healthy).isVisible(), false, "filter applied to the new rows");
  assert.equal(await row(fixtures.failing).locator("details.err").evaluate((d) => d.open), true, "open error stays open");
  assert.match(await page.locator("#refreshed").textContent(), /^updated /);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.selectOption("#f-state", "");
  await screenshot("refreshed");
}
