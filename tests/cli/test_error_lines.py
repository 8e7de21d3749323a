"""Issue 21 (smaller findings): every error a user can cause is one short `error:` line."""

from __future__ import annotations

import argparse
import errno
import shutil

from hls.cli.exit_status import BAD_INPUT, run_command


def test_disk_full_is_one_short_line_naming_the_path(capsys, tmp_path):
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "big.dat"))
    listed = shutil.Error([(f"/src/f{i}", f"{tmp_path}/dst/f{i}", "[Errno 28] No space left on device")
                           for i in range(200)])

    def raiser(exc):
        def run(args):
            raise exc
        return run

    assert run_command(raiser(full), argparse.Namespace()) == BAD_INPUT
    err = capsys.readouterr().err
    assert err == (f"error: no space left on the device writing {tmp_path}/out/big.dat: free some space or choose "
                   "another output folder\n")
    assert run_command(raiser(listed), argparse.Namespace()) == BAD_INPUT
    err = capsys.readouterr().err
    assert err == f"error: [Errno 28] No space left on device (writing {tmp_path}/dst/f0; 200 file(s) failed)\n"
    assert len(err) < 200
    assert list(tmp_path.iterdir()) == []
