/** SSH keys for tests: the throwaway TEST_PRIVATE_KEY (with its KEY_MARKER), fresh ed25519 pairs and made-up host keys; pure: loads no mocks. */
import { createHash } from "node:crypto";
import { utils } from "ssh2";

/** A throwaway private key: only its presence, and its absence everywhere else, matters. */
export const TEST_PRIVATE_KEY = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "UNIT-TEST-KEY-MATERIAL-7f3a9c",
    "-----END OPENSSH PRIVATE KEY-----",
    "",
].join("\n");
/** The line of TEST_PRIVATE_KEY looked for everywhere. */
export const KEY_MARKER = "UNIT-TEST-KEY-MATERIAL-7f3a9c";

/** A fresh ed25519 key pair, OpenSSH formats (`public` is `ssh-ed25519 <base64>`, no comment). */
export function ed25519(): { private: string; public: string } {
    for (;;) {
        // ssh2 drops a leading zero byte of the public key; such a blob is not a valid key, so draw again.
        const k = utils.generateKeyPairSync("ed25519");
        const pub = k.public.split(" ").slice(0, 2).join(" ");
        if (pub.startsWith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")) return { private: k.private, public: pub };
    }
}

/** A valid, made-up `ssh-ed25519 <base64>` host key derived from `seed` (no private half: for plans and fakes). */
export function fakeHostKey(seed: string): string {
    const wire = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const blob = Buffer.concat([wire(Buffer.from("ssh-ed25519")), wire(createHash("sha256").update(`pulumi-macvlan test host ${seed}`).digest())]);
    return `ssh-ed25519 ${blob.toString("base64")}`;
}
