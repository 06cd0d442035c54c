"""The API reference names every public name: each public Python name has
an entry (a heading) in docs/api/python.md, and each function declared in
libpartial.h has one in docs/api/c.md. The names are computed here, from the
installed package and the header, so that a new name without docs fails."""
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "libpartial" / "include" / "libpartial.h"
PYTHON_DOC = ROOT / "docs" / "api" / "python.md"
C_DOC = ROOT / "docs" / "api" / "c.md"


def public_names(module):
    """__all__, or the public non-module names the module holds."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_") and not inspect.ismodule(getattr(module, n))]
    return sorted(names)


def public_modules():
    import partial4py
    modules = [partial4py, importlib.import_module("partial4py.errors")]
    try:
        modules.append(importlib.import_module("partial4py.torch"))
    except ImportError:  # torch is an optional extra
        pass
    return modules


# The classes whose public members each need an entry of their own.
DOCUMENTED_MEMBERS = ["Request", "SparseResult", "PartialAllreduce", "PartialInfo"]


def entries(markdown):
    """The names a reference page has an entry for: the dotted names that
    open a code span in a heading, a table row or a list item, with every
    dotted suffix (`partial4py.PartialAllreduce.start(...)` is an entry for
    start, PartialAllreduce.start and partial4py.PartialAllreduce.start)."""
    found = set()
    for line in markdown.splitlines():
        if not re.match(r"\s*(#+\s|\||[-*]\s)", line):
            continue
        for span in re.findall(r"`([^`]+)`", line):
            dotted = re.match(r"[A-Za-z_][\w.]*", span.strip())
            if dotted:
                parts = dotted.group(0).strip(".").split(".")
                found.update(".".join(parts[i:]) for i in range(len(parts)))
    return found


def headings(markdown):
    return entries("\n".join(line for line in markdown.splitlines() if line.lstrip().startswith("#")))


def test_every_public_python_name_has_a_heading():
    documented = headings(PYTHON_DOC.read_text())
    missing = [f"{module.__name__}.{name}" for module in public_modules() for name in public_names(module)
               if name not in documented]
    assert not missing, f"not documented in {PYTHON_DOC.relative_to(ROOT)}: {missing}"


def test_every_public_member_of_the_main_classes_is_documented():
    import partial4py
    documented = entries(PYTHON_DOC.read_text())
    missing = [f"{cls}.{member}" for cls in DOCUMENTED_MEMBERS
               for member in dir(getattr(partial4py, cls))
               if not member.startswith("_") and f"{cls}.{member}" not in documented]
    assert not missing, f"not documented in {PYTHON_DOC.relative_to(ROOT)}: {missing}"


def test_torch_wrapper_is_documented():
    torch_module = pytest.importorskip("partial4py.torch")
    documented = entries(PYTHON_DOC.read_text())
    cls = torch_module.DistributedOptimizer
    # What torch.optim.Optimizer defines and the wrapper inherits unchanged
    # is torch's to document; what the wrapper adds or overrides is ours.
    inherited = set(dir(torch_module.torch.optim.Optimizer)) - set(vars(cls))
    missing = [f"DistributedOptimizer.{m}" for m in dir(cls)
               if not m.startswith("_") and m not in inherited and f"DistributedOptimizer.{m}" not in documented]
    assert not missing, f"not documented in {PYTHON_DOC.relative_to(ROOT)}: {missing}"


def header_functions(text):
    """The functions declared in a C header: comments and preprocessor lines
    (with their continuations) removed, the rest cut into declarations at ;
    and braces; a declaration is one whose name before the first ( starts with
    lp_, after any return type and prefix macros (LP_API, attributes)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    names = []
    for statement in re.split(r"[;{}]", text):
        match = re.match(r"\s*(?:[A-Za-z_]\w*(?:\s*\((?:[^()]|\([^()]*\))*\))?[\s*]+)+?(lp_\w+)\s*\(", statement)
        if match:
            names.append(match.group(1))
    return names


def test_header_parser_finds_declarations_with_export_macros():
    text = """
    #define LP_API __attribute__((visibility("default")))
    #define LP_MAX(a, b) ((a) > (b) ? (a) : (b))
    LP_API lp_result_t lp_one(int x);
    LP_API const char *lp_two(void);
    typedef enum { LP_A = 0 } lp_kind_t;
    /* lp_commented(void); */
    LP_API __attribute__((deprecated)) void lp_three(lp_kind_t k,
                                                     int y);
    """
    assert header_functions(text) == ["lp_one", "lp_two", "lp_three"]


def test_every_c_function_has_a_heading():
    functions = header_functions(HEADER.read_text())
    assert len(functions) > 40, functions  # the parser still finds the declarations
    documented = headings(C_DOC.read_text())
    missing = [name for name in functions if name not in documented]
    assert not missing, f"not documented in {C_DOC.relative_to(ROOT)}: {missing}"


def test_every_c_type_enum_and_macro_is_named():
    text = re.sub(r"/\*.*?\*/", " ", HEADER.read_text(), flags=re.S)
    names = set(re.findall(r"\b(lp_\w+_t)\b", text))
    names |= set(re.findall(r"^\s*(LP_[A-Z0-9_]+)\s*(?:=|,|$)", text, flags=re.M))  # enum constants
    names |= {m for m in re.findall(r"^#define\s+(LP_[A-Z0-9_]+)\s+\S", text, flags=re.M) if m != "LP_API"}
    doc = C_DOC.read_text()
    missing = sorted(name for name in names if not re.search(rf"`[^`]*\b{name}\b[^`]*`", doc))
    assert not missing, f"not named in {C_DOC.relative_to(ROOT)}: {missing}"
