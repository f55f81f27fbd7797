"""Gradcheck a module with respect to its inputs and every parameter."""
from dptrain import ag


def set_by_path(module, dotted, value):
    *path, last = dotted.split(".")
    for p in path:
        module = getattr(module, p)
    setattr(module, last, value)


def module_gradcheck(module, inputs, call):
    names = list(module.parameters())

    def fn(*args):
        xs, ps = args[:len(inputs)], args[len(inputs):]
        for n, p in zip(names, ps):
            set_by_path(module, n, p)
        return call(*xs)

    return ag.gradcheck(fn, list(inputs) + [p.numpy() for p in module.parameters().values()])
