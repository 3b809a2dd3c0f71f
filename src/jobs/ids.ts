import { z } from 'zod'

// The identifiers every message carries, checked wherever one arrives.

export const JOB_ID_RE = /^[A-Za-z0-9_-]{1,64}$/
export const JobIdSchema = z.string().regex(JOB_ID_RE, 'job ids are 1–64 letters, digits, _ or -')
export const PeerIdSchema = z.string().min(1).max(128)
export const CodeHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest')
