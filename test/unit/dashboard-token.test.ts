import { describe, expect, it } from 'vitest'
import { dashboardUrl } from '../../src/node/api/dashboard/token.js'
import { presentedToken } from '../../src/security/api-token.js'

describe('the dashboard token', () => {
  it('is read from the Authorization header only', () => {
    expect(presentedToken({ authorization: 'Bearer abc' })).toBe('abc')
    expect(presentedToken({ authorization: 'bearer  abc ' })).toBe('abc')
  })

  it('is not read from a cookie, a query or any other header', () => {
    expect(presentedToken({})).toBeUndefined()
    expect(presentedToken({ authorization: 'Bearer' })).toBeUndefined()
    expect(presentedToken({ authorization: 'Basic xyz' })).toBeUndefined()
    // An old dashboard's cookie no longer counts.
    expect(presentedToken({ cookie: 'meshwork_token=k' } as { authorization?: string })).toBeUndefined()
  })

  it('builds the link the CLI prints: the token in the fragment, which browsers never send', () => {
    expect(dashboardUrl('http://127.0.0.1:7070')).toBe('http://127.0.0.1:7070/')
    expect(dashboardUrl('http://127.0.0.1:7070/', 'a b&c')).toBe('http://127.0.0.1:7070/#token=a%20b%26c')
    expect(new URL(dashboardUrl('http://127.0.0.1:7070', 'tok')).search).toBe('')
  })
})
