"""Generates the cffi extension source (API mode) from the public header.

Usage: python _ffi_build.py libpartial.h OUTPUT.c

The declarations are read from libpartial.h itself, so the binding cannot
drift from the C API: in API mode the C compiler checks every declaration
against the real header. Functions that take an ``MPI_Comm`` by value are
reached through one shim that reads the handle from the address mpi4py
gives (``MPI._addressof``), which works for pointer handles (Open MPI) and
integer handles (MPICH) alike.
"""
import re
import sys

import cffi

SHIM = """
static lp_result_t p4p_comm_create_from_address(uintptr_t address, lp_comm_t *out)
{
    return lp_comm_create(*(MPI_Comm *)address, out);
}
"""
SHIM_CDEF = "lp_result_t p4p_comm_create_from_address(uintptr_t address, lp_comm_t *out);"


def cdef_from_header(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # The export macro means nothing to cffi's parser.
    text = re.sub(r"\bLP_API\s+", "", text)
    text = re.sub(r"#ifdef __cplusplus.*?#endif", "", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            # Keep integer constants; drop guards and includes.
            if re.match(r"#define\s+\w+\s+-?\d+\s*$", line):
                lines.append(line)
            continue
        lines.append(line)
    declarations = "\n".join(lines).split(";")
    kept = [d for d in declarations if "MPI_Comm" not in d]
    return ";".join(kept) + "\n" + SHIM_CDEF


def main(header, output):
    with open(header) as f:
        cdef = cdef_from_header(f.read())
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source("partial4py._libpartial", '#include "libpartial.h"\n#include <stdint.h>\n' + SHIM)
    ffi.emit_c_code(output)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
