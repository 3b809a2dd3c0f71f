import { describe, expect, it } from 'vitest'
import { dashboardUrl, tokenFromRequest } from '../../src/node/dashboard/token.js'

const req = (headers: Record<string, string>) => ({ headers })
const q = (s = '') => new URLSearchParams(s)

describe('the dashboard token hook', () => {
  it('reads a bearer header, then ?token=, then the cookie', () => {
    expect(tokenFromRequest(req({ authorization: 'Bearer abc' }), q('token=zzz'))).toBe('abc')
    expect(tokenFromRequest(req({ authorization: 'bearer  abc ' }), q())).toBe('abc')
    expect(tokenFromRequest(req({}), q('token=t%2F1'))).toBe('t/1')
    expect(tokenFromRequest(req({ cookie: 'a=1; meshwork_token=c%3D2; b=3' }), q())).toBe('c=2')
    expect(tokenFromRequest(req({ authorization: 'Basic xyz', cookie: 'meshwork_token=k' }), q())).toBe('k')
  })

  it('finds no token in anything else', () => {
    expect(tokenFromRequest(req({}), q())).toBeUndefined()
    expect(tokenFromRequest(req({ authorization: 'Bearer' }), q('token='))).toBeUndefined()
    expect(tokenFromRequest(req({ cookie: 'meshwork_token=%E0%A4%A' }), q())).toBeUndefined()
    expect(tokenFromRequest(req({ cookie: 'other_meshwork_token=x' }), q())).toBeUndefined()
  })

  it('builds the link the CLI prints', () => {
    expect(dashboardUrl('http://127.0.0.1:7070')).toBe('http://127.0.0.1:7070/')
    expect(dashboardUrl('http://127.0.0.1:7070/', 'a b&c')).toBe('http://127.0.0.1:7070/?token=a%20b%26c')
  })
})
