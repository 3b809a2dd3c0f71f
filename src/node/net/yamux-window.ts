import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

// @chainsafe/libp2p-yamux 8 answers every data frame it receives with a window update, even when
// the stream has almost its whole receive window left. Under the empty-task benchmark that was
// one 30-byte TCP write (a 12-byte yamux header in a noise frame) per message received: about
// half of every node's socket writes, each a system call that on loopback also runs the
// receiver's network stack (strace of 3 daemons over one 20,000-task job: 1,265–2,244 of
// 3,811–7,829 writes). hashicorp/yamux, the reference implementation, sends an update only once
// the window has fallen below half of its size; this patch applies that rule to established
// streams. The sender never waits for it: at least half the window is always open.

interface PatchedProto {
  sendWindowUpdate: (this: WindowState) => void
  __meshworkHalfWindow?: boolean
}

interface WindowState { state: StreamState, recvWindow: number, recvWindowCapacity: number }

export function patchYamuxWindowUpdates (): void {
  const proto = YamuxStream.prototype as unknown as PatchedProto
  if (proto.__meshworkHalfWindow === true) return
  const sendWindowUpdate = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState): void {
    // Opening (SYN/ACK flags) and paused streams keep the library's handling.
    if (this.state === StreamState.Established && this.recvWindowCapacity >= this.recvWindow / 2) return
    sendWindowUpdate.call(this)
  }
  proto.__meshworkHalfWindow = true
}
