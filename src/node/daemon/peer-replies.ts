// Questions sent to a peer over RPC and their answers, matched by key and by the peer asked:
// a bounded number wait at once, each for at most `timeoutMs`, and a question that cannot wait
// (too many) or is not answered in time resolves to undefined. The timeline and logs services
// ask a job's coordinator with it.

export class PeerReplies<V> {
  /** key → [peer asked, resolver] */
  private readonly waiting = new Map<string, Array<{ peer: string, resolve: (v: V | undefined) => void }>>()
  private waitingCount = 0

  constructor (private readonly timeoutMs = 3000, private readonly waitingMax = 256) {}

  /** Sends the question (`send`) and waits for `answered(key, peer, …)`. */
  async ask (key: string, peer: string, send: () => void): Promise<V | undefined> {
    if (this.waitingCount >= this.waitingMax) return undefined
    return await new Promise(resolve => {
      const list = this.waiting.get(key) ?? []
      this.waiting.set(key, list)
      this.waitingCount++
      const entry = {
        peer,
        resolve: (value: V | undefined): void => {
          clearTimeout(timer)
          const i = list.indexOf(entry)
          if (i < 0) return
          list.splice(i, 1)
          this.waitingCount--
          if (list.length === 0) this.waiting.delete(key)
          resolve(value)
        },
      }
      const timer = setTimeout(() => entry.resolve(undefined), this.timeoutMs)
      list.push(entry)
      send()
    })
  }

  /** An answer from `from`: the questions of `key` put to it are answered with `value`. */
  answered (key: string, from: string, value: V | undefined): void {
    const list = this.waiting.get(key)
    if (list === undefined) return
    for (const w of list.filter(w => w.peer === from)) w.resolve(value)
  }
}
