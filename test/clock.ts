/** A clock the test moves by hand. */
export class TestClock {
  private offset = 0
  now (): Date {
    return new Date(Date.now() + this.offset)
  }

  advance (ms: number): void {
    this.offset += ms
  }

  /** Sets the time to this moment (it moves on from there). */
  set (when: Date): void {
    this.offset = when.getTime() - Date.now()
  }
}
