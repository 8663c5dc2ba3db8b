import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PARENT_WATCH } from '../../workers/exiftool.js';
import { tempDirs } from '../helpers/server.js';

const tempDir = tempDirs('darkroom-parent-watch-');

/**
 * The preamble ExifTool runs under arms a SIGALRM once a second. A handler that runs Perl code
 * from inside the C signal handler ("unsafe", POSIX::sigaction's default) corrupts the
 * interpreter when the alarm lands while Perl is busy (compiling ExifTool on a loaded machine):
 * crashes that are rare and only under load. Asked directly, Perl must say the handler it runs
 * ExifTool with is deferred ("safe") and restarts interrupted reads.
 */
describe('the parent watch ExifTool runs under', () => {
  it('is a safe (deferred) SIGALRM handler with SA_RESTART, and ExifTool still runs after it', () => {
    // Stands in for the ExifTool script the preamble runs with `do`: reports the SIGALRM action.
    const script = path.join(tempDir(), 'report.pl');
    fs.writeFileSync(
      script,
      'use POSIX (); my $old = POSIX::SigAction->new; POSIX::sigaction(POSIX::SIGALRM(), undef, $old); ' +
        'print join(",", $old->safe ? "safe" : "unsafe", ($old->flags & POSIX::SA_RESTART()) ? "restart" : "no-restart", "args=@ARGV"); 1;',
    );
    const out = execFileSync('perl', ['-e', PARENT_WATCH, script, 'next'], { encoding: 'utf8', timeout: 10_000 });
    expect(out).toBe('safe,restart,args=next');
  });
});
