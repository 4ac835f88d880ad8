// /components: the receiver and the exporter each have a card with a health
// badge, their debug information and their arguments (planted secrets
// redacted, the <script> label shown as text); the server-drawn SVG has a
// box per component and per pipeline, coloured by health, and arrows;
// processors and extensions say "none configured"; /api/v1/components and
// /-/healthy agree with the page.
//
// Optional, when the harness provides it: fixtures.exporterBackend =
// { id: "otlp_http/ui", stop(): Promise, start(): Promise } — an exporter in
// the pipeline whose backend the harness can switch off. Then the spec also
// checks the exporter turning "degraded" with its last error and retries
// while the backend is down (and /-/healthy staying 200: degraded is not
// unhealthy), and "healthy" again after it is back. Tried against a copy
// of run.mjs with, before the admin port is chosen:
//
//   const backendPort = await freePort();
//   const backendServer = http.createServer((req, res) => {
//     req.resume();
//     req.on("end", () => { res.writeHead(200, { "content-type": "application/x-protobuf" }); res.end(); });
//   });
//   const listenBackend = () => new Promise((r) => backendServer.listen(backendPort, "127.0.0.1", r));
//   await listenBackend();
//   const exporterBackend = { id: "otlp_http/ui", start: listenBackend,
//     stop: () => new Promise((r) => { backendServer.close(() => r()); backendServer.closeAllConnections(); }) };
//
// the exporter `otlp_http/ui: {endpoint: 'http://127.0.0.1:${backendPort}',
// retry_on_failure: {initial_interval: 200ms, max_interval: 500ms}}` in the
// pipeline beside `file`, and `exporterBackend` in the fixtures.
export default async function ({ page, baseURL, screenshot, assert, sleep, fixtures }) {
  const components = async () => {
    const r = await page.request.get(`${baseURL}/api/v1/components`);
    assert.equal(r.status(), 200);
    return (await r.json()).data;
  };
  const find = (data, id) => {
    const c = data.components.find((c) => c.id === id);
    assert.ok(c, `${id} missing from /api/v1/components`);
    return c;
  };

  await page.goto(`${baseURL}/components`);
  assert.equal(await page.locator("nav a.active").textContent(), "Components");

  // One card per configured component, with its health.
  const receiver = page.locator(`section.card.receiver[data-id="${fixtures.receiver}"]`);
  const exporter = page.locator('section.card.exporter[data-id="file"]');
  assert.equal(await receiver.count(), 1, "receiver card");
  assert.equal(await exporter.count(), 1, "exporter card");
  // Targets that are down do not make the receiver unhealthy (the seed: only
  // an invalid configuration does).
  assert.equal(await receiver.locator(".badge").textContent(), "healthy");
  assert.equal(await exporter.locator(".badge").textContent(), "healthy");
  const jobs = await receiver.locator("table.kv").textContent();
  assert.match(jobs, /3 — \d up, \d down, \d unknown/, jobs);
  assert.match(jobs, /[12] down/, "the failing (and maybe the flapping) target is down");
  assert.equal(await exporter.locator('[data-field="retries"]').textContent(), "0");

  // Processors and extensions: none built in.
  assert.equal(await page.locator("h2#processors + p").textContent(), "none configured");
  assert.equal(await page.locator("h2#extensions + p").textContent(), "none configured");

  // Arguments: collapsed, then opened; secrets redacted, markup as text.
  const args = receiver.locator("details.arguments");
  assert.equal(await args.getAttribute("open"), null, "collapsed by default");
  await args.locator("summary").click();
  const yaml = await args.locator("pre").textContent();
  assert.ok(yaml.includes(fixtures.healthy), yaml);
  assert.ok(yaml.includes(fixtures.evil), "the <script> label is shown as text");
  assert.match(yaml, /password: <secret>/);
  const html = await page.content();
  for (const s of fixtures.secrets) assert.ok(!html.includes(s), `secret ${s} in the page`);
  assert.equal(await page.locator("main script").count(), 0, "no script element from outside text");

  // The diagram: a box per component and per pipeline, arrows between them.
  const svg = page.locator("svg.pipelines");
  assert.equal(await svg.count(), 1);
  assert.ok(await svg.isVisible());
  assert.equal(await svg.locator(`g.box.receiver.healthy[data-id="${fixtures.receiver}"] rect`).count(), 1);
  assert.equal(await svg.locator('g.box.exporter.healthy[data-id="file"] rect').count(), 1);
  assert.equal(await svg.locator('g.box.pipeline[data-id="profiles"]').count(), 1);
  const boxes = await svg.locator("g.box").count();
  const data = await components();
  assert.equal(boxes, data.components.length + data.pipelines.length, "one box each");
  assert.ok((await svg.locator("line.edge").count()) >= 2, "receiver → pipeline → exporter");
  assert.ok((await svg.locator(`g.box[data-id="${fixtures.receiver}"]`).textContent()).includes(fixtures.receiver));
  const box = await svg.locator('g.box[data-id="file"] rect').boundingBox();
  assert.ok(box && box.width > 50 && box.height > 10, "the box is drawn");

  // The JSON and /-/healthy agree.
  assert.equal(find(data, fixtures.receiver).health.state, "healthy");
  assert.equal(find(data, "file").health.state, "healthy");
  const healthy = await page.request.get(`${baseURL}/-/healthy`);
  assert.equal(healthy.status(), 200, await healthy.text());
  await screenshot("components");

  const backend = fixtures.exporterBackend;
  if (!backend) {
    console.log("     components: no fixtures.exporterBackend; the backend-down check is skipped");
    return;
  }
  await backend.stop();
  let down;
  for (const deadline = Date.now() + 30000; Date.now() < deadline; await sleep(500)) {
    const c = find(await components(), backend.id);
    if (c.health.state === "degraded" && c.debug[0].retries > 0) {
      down = c;
      break;
    }
  }
  assert.ok(down, `${backend.id} never turned degraded with the backend down`);
  await page.reload();
  const card = page.locator(`section.card.exporter[data-id="${backend.id}"]`);
  assert.equal(await card.locator(".badge").textContent(), "degraded");
  assert.ok((await card.locator('[data-field="last_error"]').textContent()).length > 0);
  assert.notEqual(await card.locator('[data-field="retries"]').textContent(), "0");
  assert.equal(await svg.locator(`g.box.exporter.degraded[data-id="${backend.id}"]`).count(), 1);
  assert.equal((await page.request.get(`${baseURL}/-/healthy`)).status(), 200, "degraded is not unhealthy");
  await screenshot("backend-down");

  await backend.start();
  let back = false;
  for (const deadline = Date.now() + 60000; Date.now() < deadline && !back; await sleep(500)) {
    back = find(await components(), backend.id).health.state === "healthy";
  }
  assert.ok(back, `${backend.id} did not turn healthy after its backend came back`);
  await page.reload();
  assert.equal(await page.locator(`section.card.exporter[data-id="${backend.id}"] .badge`).textContent(), "healthy");
  await screenshot("backend-back");
}
