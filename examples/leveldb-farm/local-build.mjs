// The reference build of farm.mjs's input on this machine alone: writes the project's files
// into `dir` at their relative paths, generates a Makefile with one rule per unit (the command
// line of compile.mjs, run from `dir`) and runs `make -jN`, timing it. Each rule keeps its
// unit's exit code and diagnostics, so a unit that fails to compile fails only itself.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { compileArgs, objectOf } from './compile.mjs'

const sh = s => /^[A-Za-z0-9_+=.,/:@%-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`

/** Writes `project` into `dir` and its Makefile; the units' status files are make's targets. */
export function writeMakefile (project, dir) {
  for (const [path, text] of Object.entries(project.files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const rules = project.units.map(u => {
    const o = objectOf(u.source)
    // make's $$ is the shell's $: the status file holds c++'s exit code, the .stderr file its output.
    return `${o}.status: ${u.source}\n\t-c++ ${compileArgs(u, dir).map(sh).join(' ')} 2>${o}.stderr; echo $$? >$@\n`
  })
  const all = project.units.map(u => `${objectOf(u.source)}.status`)
  writeFileSync(join(dir, 'Makefile'), `all: ${all.join(' ')}\n\n${rules.join('\n')}`)
}

/**
 * `make -jN` in `dir`: `{ ms, objects }`, objects keyed by source like farm.mjs's result
 * (`{ exitCode, diagnostics, sha256 }`).
 */
export async function buildLocal (project, dir, jobs = 2) {
  writeMakefile(project, dir)
  const started = performance.now()
  const make = spawn('make', [`-j${jobs}`, '-s'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  make.stderr.on('data', d => { err += d })
  make.stdout.resume()
  const code = await new Promise((resolve, reject) => { make.once('error', reject); make.once('exit', resolve) })
  const ms = performance.now() - started
  if (code !== 0) throw new Error(`make -j${jobs} failed (${code}): ${err}`)
  const objects = {}
  for (const u of project.units) {
    const o = join(dir, objectOf(u.source))
    const exitCode = Number(readFileSync(`${o}.status`, 'utf8').trim())
    const sha256 = exitCode === 0 && existsSync(o) ? createHash('sha256').update(readFileSync(o)).digest('hex') : null
    objects[u.source] = { exitCode, diagnostics: readFileSync(`${o}.stderr`, 'utf8'), sha256 }
  }
  return { ms, objects }
}
