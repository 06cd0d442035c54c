"""The repository's documentation stands alone: nothing in the README, docs,
code or help texts points to a document outside the repository."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["README.md", "docs", "python", "libpartial", "bench", "slurm", "tests", "examples"]
OUTSIDE = re.compile(r"\bSPEC\b|\.\./shared|shared/SPEC")


def text_files():
    for name in SCANNED:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and file.suffix in {".md", ".py", ".c", ".h", ".txt", ".sh", ".sbatch", ".in", ""}:
                if file.resolve() != Path(__file__).resolve():
                    yield file


def test_no_reference_outside_the_repository():
    found = [f"{file.relative_to(ROOT)}:{number}: {line.strip()}"
             for file in text_files()
             for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1)
             if OUTSIDE.search(line)]
    assert not found, "\n".join(found)


def test_relative_links_in_docs_resolve():
    broken = []
    for page in [ROOT / "README.md", ROOT / "tests" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, "\n".join(broken)
