import { describe, expect, it } from 'vitest'
import { answerClaim, answerCommit, answerConfirm, newReplicaState, observeCoordinator, quorumSize, shouldClaim, VoteTally } from '../../src/election/replica-set.js'

const SET = ['C', 'B1', 'B2']
const alive = (...ids: string[]) => (p: string) => ids.includes(p)

describe('who claims a job whose coordinator died', () => {
  it('nobody while the coordinator is alive', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    expect(shouldClaim(s, 'B1', alive('C', 'B1', 'B2'))).toBe(false)
    expect(shouldClaim(s, 'B2', alive('C', 'B1', 'B2'))).toBe(false)
  })
  it('the first live backup, and only it', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    expect(shouldClaim(s, 'B1', alive('B1', 'B2'))).toBe(true)
    expect(shouldClaim(s, 'B2', alive('B1', 'B2'))).toBe(false)
    expect(shouldClaim(s, 'B2', alive('B2'))).toBe(true)
  })
  it('nobody once the result is committed', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    answerCommit(s, 1)
    expect(shouldClaim(s, 'B1', alive('B1', 'B2'))).toBe(false)
  })
  it('after a takeover, the next in line if the new coordinator dies too', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    observeCoordinator(s, 'B1', 2)
    expect(shouldClaim(s, 'B2', alive('B2', 'C'))).toBe(false) // C came back: it ranks first and is alive
    expect(shouldClaim(s, 'C', alive('B2', 'C'))).toBe(true)
    expect(shouldClaim(s, 'B2', alive('B2'))).toBe(true)
  })
})

describe('terms', () => {
  it('quorum is a strict majority of the replica set', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3])
  })
  it('a claim wins only with a term above every promise, and each term is granted once', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    expect(answerClaim(s, 1)).toEqual({ ok: false, promisedTerm: 1 })
    expect(answerClaim(s, 2)).toEqual({ ok: true, promisedTerm: 2 })
    expect(answerClaim(s, 2)).toEqual({ ok: false, promisedTerm: 2 })
  })
  it('a stale coordinator cannot commit after a member promised a higher term', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    answerClaim(s, 2)
    expect(answerCommit(s, 1)).toEqual({ ok: false, promisedTerm: 2 })
    expect(s.committedTerm).toBeUndefined()
    expect(answerCommit(s, 2)).toEqual({ ok: true, promisedTerm: 2 })
  })
  it('a committed member refuses every later claim', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    answerCommit(s, 1)
    expect(answerClaim(s, 5).ok).toBe(false)
  })
  it('stale coordinator news is ignored', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    expect(observeCoordinator(s, 'B1', 3)).toBe(true)
    expect(observeCoordinator(s, 'C', 2)).toBe(false)
    expect(s).toMatchObject({ coordinator: 'B1', term: 3, promisedTerm: 3 })
  })
})

describe('vote tally', () => {
  it('wins with a majority counting itself; ignores votes from outside the set', () => {
    const t = new VoteTally(SET, 2, 'B1')
    expect(t.outcome()).toBe('pending')
    expect(t.add('X', true, 2)).toBe('pending')
    expect(t.add('B2', true, 2)).toBe('won')
  })
  it('loses on a refusal with a higher term', () => {
    const t = new VoteTally(SET, 2, 'B1')
    expect(t.add('B2', false, 3)).toBe('lost')
  })
  it('a refusal at the same term (a duplicate) does not decide', () => {
    const t = new VoteTally(SET, 2, 'B1')
    expect(t.add('C', false, 2)).toBe('pending')
  })
})

describe('exactly one result: every interleaving of a stale commit and a takeover (exhaustive)', () => {
  // C (term 1) commits to some members while B1 (term 2) claims from some members, in any order.
  // Whatever the order, at most one of {C commits, B1 takes over} can win.
  const members = SET
  const orders: Array<Array<['commit' | 'claim', string]>> = []
  const events: Array<['commit' | 'claim', string]> = members.flatMap(m => [['commit', m], ['claim', m]] as Array<['commit' | 'claim', string]>)
  const permute = (rest: typeof events, acc: typeof events): void => {
    if (rest.length === 0) { orders.push(acc); return }
    for (let i = 0; i < rest.length; i++) permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, rest[i]!])
  }
  permute(events, [])

  it(`holds for all ${orders.length} orders`, () => {
    for (const order of orders) {
      const states = Object.fromEntries(members.map(m => [m, newReplicaState('j', SET, 'C', 1)]))
      const commit = new VoteTally(SET, 1, '__none__')
      const claim = new VoteTally(SET, 2, '__none__')
      let committed = false
      let tookOver = false
      for (const [kind, m] of order) {
        if (kind === 'commit') {
          const a = answerCommit(states[m]!, 1)
          if (commit.add(m, a.ok, a.promisedTerm) === 'won') committed = true
        } else {
          const a = answerClaim(states[m]!, 2)
          if (claim.add(m, a.ok, a.promisedTerm) === 'won') tookOver = true
        }
      }
      expect(committed && tookOver, order.map(e => e.join(':')).join(' ')).toBe(false)
    }
  })
})

describe('the check before a reduce', () => {
  it('confirms the current term and promises nothing', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    expect(answerConfirm(s, 1)).toEqual({ ok: true, promisedTerm: 1 })
    expect(s.promisedTerm).toBe(1)
    expect(answerClaim(s, 2).ok).toBe(true) // a confirm did not block a later takeover
  })
  it('refuses a coordinator whose term was overtaken by a claim, telling it the newer term', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    answerClaim(s, 2)
    expect(answerConfirm(s, 1)).toEqual({ ok: false, promisedTerm: 2 })
  })
  it('refuses any other term once a result is committed', () => {
    const s = newReplicaState('j', SET, 'B1', 2)
    answerCommit(s, 2)
    expect(answerConfirm(s, 2).ok).toBe(true)
    expect(answerConfirm(s, 3).ok).toBe(false)
  })
  it('a coordinator of a later term loses its confirm and commit once an earlier term committed (a resubmitted job finished by its first coordinator)', () => {
    const s = newReplicaState('j', SET, 'C', 1)
    answerCommit(s, 1)
    observeCoordinator(s, 'N', 2) // N's replica of the resubmission arrives after the commit
    const confirm = answerConfirm(s, 2)
    expect(confirm.ok).toBe(false)
    expect(new VoteTally(SET, 2, 'N').add('B1', confirm.ok, confirm.promisedTerm)).toBe('lost')
    const commit = answerCommit(s, 2)
    expect(commit.ok).toBe(false)
    expect(new VoteTally(SET, 2, 'N').add('B1', commit.ok, commit.promisedTerm)).toBe('lost')
    expect(s.committedTerm).toBe(1)
  })
  it('a majority of confirmations lets the coordinator reduce; one newer term stops it', () => {
    const won = new VoteTally(SET, 1, 'C')
    expect(won.add('B1', true, 1)).toBe('won')
    const lost = new VoteTally(SET, 1, 'C')
    expect(lost.add('B2', false, 2)).toBe('lost')
  })
})
