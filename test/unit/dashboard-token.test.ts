import { describe, expect, it } from 'vitest'
import { dashboardUrl } from '../../src/node/dashboard/token.js'
import { presentedToken } from '../../src/security/api-token.js'

const req = (headers: Record<string, string>): Record<string, string> => headers
const q = (s = '') => new URLSearchParams(s)

describe('the dashboard token hook', () => {
  it('reads a bearer header, then ?token=, then the cookie', () => {
    expect(presentedToken(req({ authorization: 'Bearer abc' }), q('token=zzz'))).toBe('abc')
    expect(presentedToken(req({ authorization: 'bearer  abc ' }), q())).toBe('abc')
    expect(presentedToken(req({}), q('token=t%2F1'))).toBe('t/1')
    expect(presentedToken(req({ cookie: 'a=1; meshwork_token=c%3D2; b=3' }), q())).toBe('c=2')
    expect(presentedToken(req({ authorization: 'Basic xyz', cookie: 'meshwork_token=k' }), q())).toBe('k')
  })

  it('finds no token in anything else', () => {
    expect(presentedToken(req({}), q())).toBeUndefined()
    expect(presentedToken(req({ authorization: 'Bearer' }), q('token='))).toBeUndefined()
    expect(presentedToken(req({ cookie: 'meshwork_token=%E0%A4%A' }), q())).toBeUndefined()
    expect(presentedToken(req({ cookie: 'other_meshwork_token=x' }), q())).toBeUndefined()
  })

  it('builds the link the CLI prints', () => {
    expect(dashboardUrl('http://127.0.0.1:7070')).toBe('http://127.0.0.1:7070/')
    expect(dashboardUrl('http://127.0.0.1:7070/', 'a b&c')).toBe('http://127.0.0.1:7070/?token=a%20b%26c')
  })
})
