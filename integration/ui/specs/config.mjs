// /config: the running configuration (print-config's text) with the planted
// secrets redacted, config text with markup shown as text, and the last
// reload's time and result (before and after POST /-/reload).
export default async function ({ page, baseURL, screenshot, assert, dialogs, fixtures }) {
  await page.goto(`${baseURL}/config`);
  const yaml = await page.locator("#config-yaml").textContent();
  assert.ok(yaml.includes("pyroscope_scrape/ui:"), yaml);
  assert.ok(yaml.includes(fixtures.healthy), yaml);
  for (const s of fixtures.secrets) assert.ok(!yaml.includes(s), `secret ${s} shown`);
  assert.ok(!(await page.content()).includes(fixtures.password), "admin password in the HTML");
  assert.match(yaml, /password: <secret>/);
  assert.ok(yaml.includes(fixtures.evil), "the <script> label is shown as text");
  assert.equal(await page.locator("main script").count(), 0);
  assert.deepEqual(dialogs, []);
  assert.match(await page.locator("#reload").textContent(), /^Loaded at start-up, \d{4}-\d\d-\d\dT.*Z; not reloaded since\.$/);
  await screenshot("config");

  const r = await page.request.post(`${baseURL}/-/reload`);
  assert.equal(r.status(), 200, await r.text());
  await page.reload();
  assert.match(await page.locator("#reload").textContent(), /^Last reload \d{4}-\d\d-\d\dT.*Z: ok \(.+\)$/);
  await screenshot("reloaded");
}
