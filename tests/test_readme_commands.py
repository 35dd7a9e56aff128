"""Every shell command in README.md's ```bash blocks runs as written, from a copy of the working
layout (a temp dir with the repo and ``../shared`` beside it), or is excluded below with a reason.

The tables below are the only place a command is changed or skipped: adding a README command for
``python benchmarks/compare.py`` or ``python -m hg_jax.retrain`` is one line in SHRINK or EXCLUDED.
``[...]`` in a README command marks optional flags; they are run (brackets dropped), so each shown
flag is exercised. A command that matches neither table runs exactly as written.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# prefix of a README command -> why the suite does not run it
EXCLUDED = {
    "bash setup.sh": "installs apt packages and the package; the suite runs inside that environment",
    "python -m pytest": "the suite itself (recursion)",
    "python launch.py --config configs/<name>.py": "a syntax template (placeholders <name>, DIR)",
    "python launch.py --config configs/mbii.py --sweep --launcher slurm": "needs a SLURM cluster",
    "python -m hg_jax.evaluate --workdir runs/nyu --data nyu_depth_v2_labeled.mat":
        "the full NYU labelled .mat (2.8 GB) is not shipped",
    "python -m hg_jax.evaluate --workdir runs/faces":
        "needs a trained faces run: minutes of CPU here, over the docs-test budget",
    "python -m hg_jax.evaluate --workdir runs/intrinsic":
        "needs a trained intrinsic run: minutes of CPU here, over the docs-test budget",
    "ray start --address=HEAD_IP": "joins a head node on another host (HEAD_IP is a placeholder)",
}
# shortest run that keeps a launch command's shape: the :small variant, one outer step, the fixed
# method (no meta-gradient compile) with no warm-up (it must be shorter than the run), same paths and
# flags otherwise
FAST = ["--config.outer_steps=1", "--config.eval_every=1", "--config.method=fixed", "--config.beta_opt.warmup_steps=0"]
# prefix -> (argv replacements, args appended)
SHRINK = {
    "python launch.py --config configs/nyu.py ": ({"configs/nyu.py": "configs/nyu.py:small"}, FAST),
    "python launch.py --config configs/nyu.py:paper ": ({"configs/nyu.py:paper": "configs/nyu.py:small"}, FAST),
    # the Ray head this test starts (as the README does) has the machine's 2 CPUs for actors
    "python launch.py --config configs/mbii.py --workdir runs/mbii_ray ": (
        {"configs/mbii.py": "configs/mbii.py:small", "--config.render.num_workers=40": "--config.render.num_workers=2"},
        FAST),
    "python launch.py --config configs/mbii.py ": ({"configs/mbii.py": "configs/mbii.py:small"}, FAST),
}
# a workdir a README command reads -> the README-shaped command that writes it first (then SHRINK)
PRODUCERS = {
    "runs/mbii": "python launch.py --config configs/mbii.py --workdir runs/mbii",
    "runs/nyu": "python launch.py --config configs/nyu.py --workdir runs/nyu",
}


def readme_commands(text: str) -> list[str]:
    """Shell commands of the ```bash blocks: continuations joined, && chains split, comments dropped."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            out += [" ".join(part.split()) for part in line.split("&&") if part.strip()]
    return out


def _excluded(cmd):
    return next((why for p, why in EXCLUDED.items() if cmd.startswith(p)), None)


def _argv(cmd):
    argv = shlex.split(cmd.replace("[", "").replace("]", ""))
    for prefix, (repl, extra) in SHRINK.items():
        if (cmd + " ").startswith(prefix):
            argv = [repl.get(a, a) for a in argv] + extra
            break
    if argv[0] == "python":
        argv[0] = sys.executable
    return argv


def _commands():
    return readme_commands(open(os.path.join(REPO, "README.md")).read())


def test_every_readme_command_is_run_or_excluded():
    cmds = _commands()
    assert cmds, "no ```bash commands found in README.md"
    for table in (EXCLUDED, SHRINK):
        stale = [p for p in table if not any((c + " ").startswith(p) for c in cmds)]
        assert not stale, f"entries matching no README command (remove them): {stale}"
    for c in cmds:
        if not _excluded(c):
            shlex.split(c.replace("[", "").replace("]", ""))   # parses as a command line
            assert "<" not in c and "DIR" not in c.split(), f"template in README; exclude it: {c}"


@pytest.mark.slow
@pytest.mark.xdist_group("ray")   # its `ray stop` ends every Ray on the machine: never beside test_ray_pool
def test_readme_commands_run_as_written(tmp_path):
    repo = tmp_path / "repo"          # real dir of links, so `..` from it is tmp_path, not the repo's parent
    repo.mkdir()
    for name in os.listdir(REPO):
        if name not in ("runs", ".git"):
            os.symlink(os.path.join(REPO, name), repo / name)
    os.symlink(os.path.join(os.path.dirname(REPO), "shared"), tmp_path / "shared")
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def run(cmd):
        p = subprocess.run(_argv(cmd), cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, f"README command failed: {cmd}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"

    try:
        _run_all(repo, run)
    finally:   # a failure between the README's `ray start --head` and `ray stop` must not leave Ray up
        subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120)


def _run_all(repo, run):
    for cmd in _commands():
        if _excluded(cmd):
            continue
        if cmd.startswith("python -m hg_jax.sweep summary runs/mbii_sweep"):
            # a sweep root whose one point is the mbii run: the SLURM sweep itself is excluded
            if not (repo / "runs" / "mbii").exists():
                run(PRODUCERS["runs/mbii"])
            os.makedirs(repo / "runs" / "mbii_sweep", exist_ok=True)
            shutil.copytree(repo / "runs" / "mbii", repo / "runs" / "mbii_sweep" / "000_point")
        m = re.search(r"--workdir (\S+)", cmd)
        if "hg_jax.evaluate" in cmd and m and not (repo / m.group(1)).exists():
            run(PRODUCERS[m.group(1)])
        run(cmd)
