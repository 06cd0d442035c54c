"""The deprecation path of parameters that became keyword-only.

``comm`` (and every parameter after it) used to be positional, at a
different place in each collective. The functions now take them by keyword
only; for one release the old positional spelling still works, with a
DeprecationWarning that names the parameters and their new spelling.
"""
import functools
import inspect
import warnings


def keyword_only(function):
    """Decorates a function whose keyword-only parameters used to be
    positional, in the order the signature lists them.

    Extra positional arguments are bound to those parameters with a
    DeprecationWarning; the signature seen by ``inspect`` (and so by
    ``help()`` and stubtest) is the keyword-only one of ``function``."""
    parameters = inspect.signature(function).parameters.values()
    positional = [p.name for p in parameters
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    formerly_positional = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    limit = len(positional)
    public_name = function.__qualname__.replace(".__init__", "")

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if len(args) > limit:
            extra = args[limit:]
            if len(extra) > len(formerly_positional):
                return function(*args, **kwargs)  # too many arguments: the function's own TypeError
            names = formerly_positional[:len(extra)]
            for name, value in zip(names, extra):
                if name in kwargs:
                    raise TypeError(f"{public_name}() got multiple values for argument {name!r}")
                kwargs[name] = value
            spelled = ", ".join(f"{name}=..." for name in names)
            them = "it" if len(names) == 1 else "them"
            warnings.warn(f"passing {', '.join(repr(n) for n in names)} to {public_name}() by position is "
                          f"deprecated; pass {them} by keyword: {public_name}(..., {spelled})",
                          DeprecationWarning, stacklevel=2)
            args = args[:limit]
        return function(*args, **kwargs)

    return wrapper
