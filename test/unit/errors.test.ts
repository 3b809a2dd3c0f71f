import { describe, expect, it } from 'vitest'
import { InvalidElectionSpecError } from '../../src/election/strategy.js'
import { JobError } from '../../src/index.js'
import { OwnerPolicyError } from '../../src/jobs/owner-policy.js'
import { ApiError } from '../../src/node/api/api-server.js'
import { ClientError, NotFoundError, RefusedError } from '../../src/node/cli/client.js'
import { JobFailedError } from '../../src/node/cli/cmd-submit.js'
import { JobModuleError } from '../../src/node/cli/job-module.js'
import { UsageError } from '../../src/node/cli/options.js'
import { SubmitError } from '../../src/node/cli/submit.js'
import { SubmissionRejectedError, SubmissionsFullError } from '../../src/node/daemon/job-submissions.js'
import { TimelineUnknownJobError } from '../../src/node/daemon/timeline-service.js'
import { FrameTooLargeError } from '../../src/node/net/rpc/frames.js'
import { ApiTokenError } from '../../src/security/api-token.js'
import { MeshKeyError } from '../../src/security/mesh-key.js'
import { MeshworkError } from '../../src/util/errors.js'

// One class per condition: each names itself and carries its own stable code.
const errors: MeshworkError[] = [
  new InvalidElectionSpecError('x'), new JobError({ jobId: 'j', state: 'failed', error: 'boom' } as ConstructorParameters<typeof JobError>[0]),
  new OwnerPolicyError('x'), new ApiError(400, 'x'), new ClientError('x'), new NotFoundError('x'), new RefusedError('x'), new JobFailedError('x'), new JobModuleError('x'),
  new UsageError('x'), new SubmitError('x'), new SubmissionRejectedError('x'), new SubmissionsFullError('x'),
  new TimelineUnknownJobError('x'), new FrameTooLargeError('x'), new ApiTokenError('x'), new MeshKeyError('x'),
]

describe('errors', () => {
  it.each(errors.map(e => [e.constructor.name, e] as const))('%s is a MeshworkError named after its class, with a code', (className, e) => {
    expect(e).toBeInstanceOf(MeshworkError)
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe(className)
    expect(e.code).toMatch(/^[a-z][a-z-]*$/)
    expect(String(e)).toMatch(new RegExp(`^${className}: `))
  })

  it('no two conditions share a code', () => {
    expect(new Set(errors.map(e => e.code)).size).toBe(errors.length)
  })
})
