#!/usr/bin/env python3
"""`make shell` on a real terminal, and the status `make run` exits with.

`make shell` runs ovmf/run.sh --interactive --verdict shell; here the same command runs on a
pseudo-terminal, as it would in a terminal window:
  - Ctrl-C reaches the guest (QEMU keeps running: the serial line is `mon:stdio`, signals off);
    `pmm map -b` then pages with the shell's prompt, and Q there stops it with status 0x15;
    `pmm boot` afterwards ends in the kernel's PASS, which exits 0;
  - Ctrl-A X, docs/shell.md's way out, quits QEMU through its monitor, also with status 0, and the
    session says so when it starts;
  - `unload` of the command's handle removes `pmm` and gives back the pages its allocator held: a
    second load builds from a map with them free again.
`make run` exits 0 on PASS (and says so); a kernel that fails (build/esp-fault.img) exits 1.
Each step waits for what the guest prints, with a time limit, never for a fixed time.
"""
import os
import re
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


class Tty:
    """A command on a pseudo-terminal: what it prints, what is typed at it, how it ends."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp(argv[0], argv)
        self.out = b""
        self.seen = 0
        self.status = None

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            self.out += data
            return data
        return None

    def expect(self, what, timeout):
        """Wait until what appears (after what was already seen), colour codes left out."""
        end = time.time() + timeout
        while time.time() < end:
            at = self.text().find(what, self.seen)
            if at >= 0:
                self.seen = at + len(what)
                return True
            if not self.alive():
                break
            self.read(0.5)
        return False

    def type(self, keys):
        os.write(self.fd, keys.encode())

    def alive(self):
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
        return self.status is None

    def wait(self, timeout):
        end = time.time() + timeout
        while self.alive() and time.time() < end:
            self.read(0.5)
        while self.read(0.1):
            pass
        if self.alive():
            self.stop()
            return None
        return self.status

    def stop(self):
        """run.sh and QEMU: the session pty.fork made (QEMU stays in its process group)."""
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            time.sleep(2)
            if self.alive():
                os.killpg(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)

    def run(self, cmd, *until, timeout=60):
        """Type cmd and wait for each of until in turn; return what the guest printed since (None
        on timeout)."""
        self.seen = start = len(self.text())
        self.type(cmd + "\r")
        for u in until:
            if not self.expect(u, timeout):
                return None
        return self.text()[start:]

    def text(self):
        text = self.out.decode("utf-8", "replace").replace("\r", "")
        return re.sub(r"\x1b\[[0-9;=?]*[a-zA-Z]", "", text)


def shell_session(image, keys_after_load, name):
    t = Tty(["ovmf/run.sh", "--interactive", "--verdict", "shell", "--timeout", "240",
             "--image", image])
    if t.expect("startup.nsh or any other key", 120):
        t.type(" ")  # skip the 5 s wait
    loaded = t.expect("the pmm command is loaded", 120)
    check(loaded, f"{name}: the shell did not run startup.nsh")
    if loaded:
        t.expect("FS0:\\>", 20)  # the prompt after startup.nsh
        said = t.text()[t.text().find("the pmm command is loaded"):t.seen]
        check("Ctrl-A X" in said and "quit" in said, f"{name}: the session does not say how to quit: {said!r}")
        for keys, pause in keys_after_load:
            t.type(keys)
            time.sleep(pause)
    return t


tmp = tempfile.mkdtemp()
try:
    # make shell's image: shell-test.img's files with make shell's own startup.nsh
    image = os.path.join(tmp, "shell.img")
    shutil.copy("build/shell-test.img", image)
    subprocess.run(["mcopy", "-o", "-i", image, "efi/shell/startup.nsh", "::/startup.nsh"], check=True)

    # Ctrl-C, then pmm boot: QEMU must still be there to boot, and PASS exits 0
    t = shell_session(image, [("\x03", 3)], "Ctrl-C")
    check(t.alive(), f"Ctrl-C stopped QEMU (status {t.status})")
    # Q at the shell's page-break prompt stops the listing: status 0x15 (aborted)
    t.type("pmm map -b\r")
    if check(t.expect("Press ENTER to continue or 'Q' break", 30), "pmm map -b did not page"):
        t.type("q")
        t.expect("FS0:\\>", 30)
        t.type("echo st=%pmm_status%\r")
        check(t.expect("st=0x15", 30), "Q at the page-break prompt: pmm_status is not 0x15")
        check(not re.search(r"\d+ descriptors?; pages", t.text()), "Q did not stop pmm map")
    if t.alive():
        t.type("pmm boot\r")
    st = t.wait(120)
    log = t.text()
    check("kernel: verdict: PASS" in log, "make shell: pmm boot did not reach PASS")
    check(st == 0, f"make shell: a PASS exits {st}, want 0")
    check("run.sh: PASS" in log, "make shell: no PASS line from run.sh")

    # unload: the command goes, and so do the pages its allocator held; then Ctrl-A X quits QEMU
    # from its monitor
    t = shell_session(image, [], "unload")

    def free_pages():
        out = t.run("pmm stats -sfo", "PmmSections,", "FS0:\\>") or ""
        m = re.search(r'PmmSummary,"\d+","(\d+)"', out)
        return int(m.group(1)) if m else None

    before = free_pages()
    check(t.run("pmm alloc 256", "%pmm_last% =") is not None, "unload: pmm alloc 256 failed")
    out = t.run("dh -p ShellDynamicCommand", "Handle dump by protocol", "FS0:\\>") or ""
    h = re.search(r"^\s*([0-9A-Fa-f]+): ShellDynamicCommand\b.*pmmcmd", out, re.M | re.I)
    if check(h, f"unload: dh does not show pmm's command on pmmcmd.efi's image handle: {out!r}"):
        check(t.run(f"unload -n {h.group(1)}", "Result Success") is not None,
              "unload: the shell could not unload pmmcmd.efi")
        check(t.run("pmm check", "is not recognized") is not None, "unload: pmm is still there")
        check(t.run("load fs0:\\EFI\\pmm\\pmmcmd.efi", "- Success") is not None, "unload: load again failed")
        after = free_pages()
        # the 256 pages and the first allocator's metadata came back; a page or two may move
        check(before and after and abs(after - before) < 64,
              f"unload: {before} pages free before, {after} after unload and a new load")
    t.type("\x01x")
    st = t.wait(30)
    check(st == 0, f"Ctrl-A X: QEMU did not quit with status 0 ({st})")
    # in the raw bytes: QEMU's line can land inside the guest's escape sequence "ESC [", where
    # text() would take its Q as the sequence's end
    check(b"QEMU: Terminated" in t.out, "Ctrl-A X did not reach QEMU's monitor")
finally:
    shutil.rmtree(tmp)

# make run: PASS exits 0, a failing kernel exits 1
r = subprocess.run(["make", "--no-print-directory", "-s", "run"], capture_output=True, text=True,
                   timeout=300)
check(r.returncode == 0 and "run.sh: PASS" in r.stdout + r.stderr,
      f"make run: status {r.returncode} on a passing boot, want 0 and a PASS line")
check("Error" not in r.stderr, f"make run: make reports an error: {r.stderr.strip()[-200:]}")
r = subprocess.run(["ovmf/run.sh", "--verdict", "run", "--timeout", "240", "--image",
                    "build/esp-fault.img"], capture_output=True, text=True, timeout=300)
check(r.returncode == 1 and "run.sh: FAIL" in r.stderr,
      f"make run on a failing kernel: status {r.returncode}, want 1 and a FAIL line")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    print("---- last terminal session ----")
    print(t.text()[-4000:])
    sys.exit(1)
print("make shell: says how to quit, Ctrl-C reaches the guest, Q stops -b, unload gives the pages "
      "back, Ctrl-A X quits, PASS exits 0; make run: PASS 0, FAIL 1")
