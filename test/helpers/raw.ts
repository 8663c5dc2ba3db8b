import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { ROOT } from './child.js';

/** Real camera RAWs from ExifTool's test suite, image data stripped (test/fixtures/README.md). */
export const RAW_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'raw');
export const rawFixture = (name: string) => fs.readFileSync(path.join(RAW_FIXTURES, name));

/**
 * ExifTool as the tests run it, apart from the server's: to write previews and tags into copies
 * of the fixtures and to read what ExifTool itself says about a file. End it after the tests.
 */
export function testExifTool(): ExifTool {
  // Plain EXIF values, as the exiftool command prints them (no MWG composites with sub-seconds).
  return new ExifTool({ maxProcs: 1, taskRetries: 0, checkPerl: false, geolocation: false, backfillTimezones: false, useMWG: false });
}

/**
 * A JPEG preview for a RAW whose orientation tag is `orientation`: upright, its top-left quarter
 * red and the rest blue; stored turned the opposite way, so only applying the RAW's orientation
 * (once) brings the red back to the top left. The preview's own EXIF says `ownOrientation`, which
 * must be ignored. Upright size `width`×`height`.
 */
export async function previewJpeg(orientation: number, width: number, height: number, ownOrientation?: number): Promise<Buffer> {
  const upright = sharp({ create: { width, height, channels: 3, background: '#0000ff' } }).composite([
    { input: { create: { width: width / 2, height: height / 2, channels: 3, background: '#ff0000' } }, left: 0, top: 0 },
  ]);
  let stored = sharp(await upright.png().toBuffer());
  // What the pipeline's rotate() undoes for each orientation, done the other way round.
  if (orientation === 2) stored = stored.flop();
  if (orientation === 3) stored = stored.rotate(180);
  if (orientation === 4) stored = stored.flip();
  if (orientation === 5) stored = stored.rotate(270).flop();
  if (orientation === 6) stored = stored.rotate(270);
  if (orientation === 7) stored = stored.rotate(90).flop();
  if (orientation === 8) stored = stored.rotate(90);
  const jpeg = sharp(await stored.png().toBuffer()).jpeg({ quality: 95 });
  return await (ownOrientation ? jpeg.withMetadata({ orientation: ownOrientation }) : jpeg).toBuffer();
}

/**
 * A copy of a RAW fixture in `dir` with a real preview written into `tag` by ExifTool, and the
 * RAW's orientation (and GPS position, when given) set.
 */
export async function rawWithPreview(
  exiftool: ExifTool,
  dir: string,
  options: { fixture: string; tag: 'PreviewImage' | 'JpgFromRaw'; orientation: number; preview: Buffer; gps?: { latitude: number; longitude: number; altitude: number } },
): Promise<Buffer> {
  const file = path.join(dir, `${options.tag}-${options.orientation}-${options.fixture}`);
  const jpeg = `${file}.preview.jpg`;
  fs.copyFileSync(path.join(RAW_FIXTURES, options.fixture), file);
  fs.writeFileSync(jpeg, options.preview);
  const tags: Record<string, unknown> = { 'Orientation#': options.orientation };
  if (options.gps) {
    const { latitude, longitude, altitude } = options.gps;
    Object.assign(tags, {
      'GPSLatitude#': Math.abs(latitude),
      GPSLatitudeRef: latitude < 0 ? 'S' : 'N',
      'GPSLongitude#': Math.abs(longitude),
      GPSLongitudeRef: longitude < 0 ? 'W' : 'E',
      'GPSAltitude#': Math.abs(altitude),
      'GPSAltitudeRef#': altitude < 0 ? 1 : 0,
    });
  }
  await exiftool.write(file, tags as never, { writeArgs: ['-overwrite_original', '-m', `-${options.tag}<=${jpeg}`] });
  return fs.readFileSync(file);
}

/**
 * Perl processes running ExifTool that are children of this process (the server's probe and
 * the workers' tasks run in it): none may be left once a server is closed. `except`: the tests' own.
 */
export function exiftoolChildren(except: number[] = []): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid || except.includes(Number(entry))) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('exiftool')) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** What the stand-in for perl (`perlWithFaults`) does to the ExifTool processes started through it. */
export interface PerlFaults {
  /** Every start fails at once, as with no Perl installed. */
  failStart?: boolean;
  /** The ExifTool process is killed (as if it crashed) on the next `times` commands that have a line equal to `line`. */
  crash?: { line: string; times: number };
}

/**
 * A fault stub for Perl: a `perl` on a folder to put first on PATH, which runs the real Perl
 * (found now) with the arguments it is given and passes ExifTool's commands on, or fails as
 * `set()` last said. ExifTool's processes are started by name through PATH, so the server's
 * (and the worker threads', created after PATH is changed) go through it. `faults()` reads back
 * what is left of the faults: a crash that was due and was not used shows there.
 */
export function perlWithFaults(dir: string) {
  const realPerl = execFileSync('/bin/sh', ['-c', 'command -v perl'], { encoding: 'utf8' }).trim();
  const control = path.join(dir, 'faults.json');
  const set = (faults: PerlFaults) => fs.writeFileSync(control, JSON.stringify(faults));
  set({});
  // In Perl, as what it stands in for: ExifTool's processes run under an address-space limit
  // (`ulimit -v`) a Node process could not start under.
  const stub = `#!${realPerl}
use strict;
use warnings;
use JSON::PP;
use IO::Handle;
my $control = ${JSON.stringify(control)};
sub faults { open(my $in, '<', $control) or return {}; local $/; my $json = <$in>; return decode_json($json) }
sub save { open(my $out, '>', $control) or die "$control: $!"; print $out encode_json($_[0]) }
if (faults()->{failStart}) { print STDERR "perl: cannot start\\n"; exit 127 }
my $pid = open(my $perl, '|-', ${JSON.stringify(realPerl)}, @ARGV) or die "cannot run perl: $!";
$perl->autoflush(1);
my @command;
while (my $line = <STDIN>) {
  push @command, $line;
  if ($line =~ /^-execute\\d*$/) {
    my $f = faults();
    my $crash = $f->{crash};
    if ($crash && $crash->{times} > 0 && grep { $_ eq "$crash->{line}\\n" } @command) {
      $crash->{times} -= 1;
      save($f);
      kill 'KILL', $pid;
      kill 'KILL', $$;
    }
    @command = ();
  }
  print $perl $line;
}
close $perl;
exit($? >> 8);
`;
  fs.writeFileSync(path.join(dir, 'perl'), stub, { mode: 0o755 });
  return { dir, set, faults: (): PerlFaults => JSON.parse(fs.readFileSync(control, 'utf8')) };
}
