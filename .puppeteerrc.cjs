// puppeteer (through @mermaid-js/mermaid-cli, for `npm run topology:svg`) must not download a
// browser on `npm install`/`npm ci`: there is no internet here, and Debian's chromium is used
// instead (PUPPETEER_EXECUTABLE_PATH, scripts/topologySvg.ts).
module.exports = { skipDownload: true };
