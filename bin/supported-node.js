// Imported first by every entry point: on an unsupported Node, one line that says what to do,
// instead of a crash deep inside a native module (better-sqlite3 13 needs Node 22).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`darkroom: Node.js 22.12 or newer is required, this is ${process.version}; see "Requirements" in the README\n`);
  process.exit(1);
}
