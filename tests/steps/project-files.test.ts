// Which files an upload takes: Prefect's ignore-file rules (its own fixture indents the lines;
// null or "" means no filtering; a path may be absolute), and links to files followed.
import { expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ignoreFileFor, projectFiles } from "../../core/steps/index.ts";
import { tempDir } from "../helpers.ts";

function project(root: string) {
  for (const f of ["testfile1.txt", "testfile2.txt", "testdir1/testfile4.txt", "testdir2/testfile5.txt"]) {
    mkdirSync(join(root, f, ".."), { recursive: true });
    writeFileSync(join(root, f), f);
  }
  // As prefect-aws's tests write it: indented lines.
  writeFileSync(join(root, ".prefectignore"), "    testdir1/*\n    .prefectignore\n");
}

const rels = (root: string, named: string | null | undefined) =>
  projectFiles(root, ignoreFileFor(root, named)).map((f) => f.rel);

test("indented .prefectignore lines apply, as Prefect strips them", () => {
  using dir = tempDir();
  project(dir.path);
  expect(rels(dir.path, undefined)).toEqual(["testdir2/testfile5.txt", "testfile1.txt", "testfile2.txt"]);
});

test('ignore_file: null or "" uploads everything; an absolute path is read; a missing one applies nothing', () => {
  using dir = tempDir();
  project(dir.path);
  const all = [
    ".prefectignore",
    "testdir1/testfile4.txt",
    "testdir2/testfile5.txt",
    "testfile1.txt",
    "testfile2.txt",
  ];
  expect(rels(dir.path, null)).toEqual(all);
  expect(rels(dir.path, "")).toEqual(all);
  using other = tempDir();
  writeFileSync(join(other.path, "abs-ignore"), "testfile1.txt\n");
  expect(rels(dir.path, join(other.path, "abs-ignore"))).toEqual(all.filter((f) => f !== "testfile1.txt"));
  expect(ignoreFileFor(dir.path, ".nosuchignore")).toBeNull();
});

test("a link to a file goes as that file; links to folders and broken links are left", () => {
  using dir = tempDir();
  mkdirSync(join(dir.path, "configs"));
  writeFileSync(join(dir.path, "configs", "prod.json"), "{}");
  symlinkSync("configs/prod.json", join(dir.path, "config.json"));
  symlinkSync("configs", join(dir.path, "linked-dir"));
  symlinkSync("nowhere", join(dir.path, "broken"));
  const files = projectFiles(dir.path, null);
  expect(files.map((f) => [f.rel, f.size])).toEqual([
    ["config.json", 2],
    ["configs/prod.json", 2],
  ]);
});

test("a Docker build context leaves links out: the file outside one points to never goes into an image", () => {
  using dir = tempDir();
  using outside = tempDir();
  writeFileSync(join(outside.path, "config.json"), '{"auths":{}}');
  writeFileSync(join(dir.path, "app.ts"), "");
  symlinkSync(join(outside.path, "config.json"), join(dir.path, "config.json"));
  expect(projectFiles(dir.path, null, undefined, false).map((f) => f.rel)).toEqual(["app.ts"]);
});
