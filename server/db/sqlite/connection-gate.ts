/**
 * Who may use the one SQLite connection now. better-sqlite3 runs each statement synchronously,
 * so single statements never overlap; a unit of work spans awaits, though, and while it is open
 * every statement on the connection is part of its transaction. So the unit of work holds the
 * gate from BEGIN to COMMIT, and any other caller (a statement, another unit of work) waits
 * for it in arrival order.
 */
export class ConnectionGate {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  get isHeld(): boolean {
    return this.held;
  }

  /** Resolves once the caller holds the gate; it must call release() exactly once after. */
  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    // Handed straight to the next in line, so a newcomer cannot slip in between.
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}
