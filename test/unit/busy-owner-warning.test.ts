import { describe, expect, it } from 'vitest'
import { busyOwnerWarning } from '../../src/node/cli/cmd-start.js'
import { ownerPolicyConfig } from '../../src/jobs/owner-policy.js'

// `meshwork start` on a machine whose owner is busy already: it says why no task will come.

describe('busy owner warning at start', () => {
  const desktop = ownerPolicyConfig('desktop')
  const dedicated = ownerPolicyConfig('dedicated')
  const table: Array<[string, number, typeof desktop, RegExp | undefined]> = [
    ['desktop, owner at 67 %', 0.67, desktop, /owner CPU 67 % > 50 %.*--policy desktop.*under 25 % for 10s.*--policy dedicated/],
    ['desktop, owner at 50 % (not above)', 0.5, desktop, undefined],
    ['desktop, owner idle', 0.05, desktop, undefined],
    ['dedicated never yields to the owner', 1, dedicated, undefined],
    ['an unknown figure says nothing', Number.NaN, desktop, undefined],
  ]
  for (const [what, load, policy, expected] of table) {
    it(what, () => {
      const w = busyOwnerWarning(load, policy)
      if (expected === undefined) expect(w).toBeUndefined()
      else expect(w).toMatch(expected)
    })
  }
})
