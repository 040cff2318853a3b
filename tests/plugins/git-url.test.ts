// Credentials written into a git URL: a token is taken out (sent as a header), a user name alone
// (Bitbucket's clone URLs) is left for git's credential helper.
import { expect, test } from "bun:test";
import { urlCredentials } from "../../plugins/git/git-clone.ts";

test("user:token and a token alone are taken out; a user name alone stays", () => {
  expect(urlCredentials("https://x-access-token:s3cr3t@github.com/a/b.git")).toEqual({
    url: "https://github.com/a/b.git",
    token: "s3cr3t",
    username: "x-access-token",
  });
  expect(urlCredentials("https://ghp_abcdefABCDEF0123456789@github.com/a/b.git")).toEqual({
    url: "https://github.com/a/b.git",
    token: "ghp_abcdefABCDEF0123456789",
  });
  expect(urlCredentials("https://myuser@bitbucket.org/team/repo.git")).toEqual({
    url: "https://myuser@bitbucket.org/team/repo.git",
  });
  expect(urlCredentials("file:///srv/git/r.git")).toEqual({ url: "file:///srv/git/r.git" });
});
