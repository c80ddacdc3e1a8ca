"""kanpiler: compile a sympy formula into a MultKAN whose symbolic edges compute it exactly.

The expression tree is laid out in layers. Sums become sum nodes, products become
multiplication nodes (one subnode per factor), and everything of the form c * f(a g + b) becomes
one edge from the node holding g. Powers with exponents in the library (x^2 .. x^5, 1/x ..
1/x^5, sqrt, x^1.5, 1/sqrt) are edge functions, so quotients compile as products with 1/x.
Two terms of one sum that read the same node would need two edges between the same pair of
nodes, which a KAN does not have (pykan drops one of them): such a term gets a node of its
own. Values needed further up are carried by identity edges, constants go to node biases.
"""
from __future__ import annotations

import io
import tokenize

import sympy
import torch
from sympy.parsing.sympy_parser import rationalize, standard_transformations

from ._model import MultKAN

_FUNCTIONS = {sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan", sympy.tanh: "tanh",
              sympy.exp: "exp", sympy.log: "log", sympy.asin: "arcsin", sympy.acos: "arccos",
              sympy.atan: "arctan", sympy.atanh: "arctanh", sympy.Abs: "abs", sympy.sign: "sgn"}
_POWERS = {2: "x^2", 3: "x^3", 4: "x^4", 5: "x^5", -1: "1/x", -2: "1/x^2", -3: "1/x^3",
           -4: "1/x^4", -5: "1/x^5", sympy.Rational(1, 2): "sqrt",
           sympy.Rational(3, 2): "x^1.5", sympy.Rational(-1, 2): "1/sqrt(x)"}
_PARSE_NAMES = {"sin", "cos", "tan", "tanh", "exp", "log", "asin", "acos", "atan", "atanh",
                "Abs", "abs", "sign", "sqrt", "pi", "E"}


_TRANSFORMS = standard_transformations + (rationalize,)  # "1.5" -> 3/2: decimals are exact


def _tokens(text: str) -> list:
    """Python tokens of a formula string (ValueError naming the formula if it has none)."""
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        raise ValueError(f"cannot parse formula {text!r}: {e}") from None


def formula_names(text: str) -> list[str]:
    """The variable names a formula string uses (names that are not known functions or
    constants), in order of first appearance."""
    names = [t.string for t in _tokens(text)
             if t.type == tokenize.NAME and t.string not in _PARSE_NAMES]
    return list(dict.fromkeys(names))


def parse_formula(text: str, variables) -> sympy.Expr:
    """Parse a formula string over ``variables`` without evaluating arbitrary code: every name
    in it must be a variable or a known function or constant."""
    names = [str(v) for v in variables]
    for tok in _tokens(text):
        if tok.type == tokenize.NAME and tok.string not in _PARSE_NAMES and tok.string not in names:
            raise ValueError(f"formula {text!r} uses {tok.string!r}, which is neither a variable "
                             f"({', '.join(names)}) nor a known function.")
        if tok.type == tokenize.OP and tok.string in {".", "[", "]", "{", "}", ":", ";", "=", "@"}:
            raise ValueError(f"formula {text!r} contains {tok.string!r}; only arithmetic is allowed.")
    local = {n: sympy.Symbol(n) for n in names}
    local.update(abs=sympy.Abs, sqrt=sympy.sqrt, pi=sympy.pi, E=sympy.E)
    try:
        return sympy.parse_expr(text, local_dict=local, transformations=_TRANSFORMS, global_dict={
            name: getattr(sympy, name) for name in _PARSE_NAMES - {"abs"}} | {
                "Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
                "Symbol": sympy.Symbol})
    except (SyntaxError, TypeError, ValueError, sympy.SympifyError) as e:
        raise ValueError(f"cannot parse formula {text!r}: {e}") from None


class _Net:
    """Nodes per layer while compiling: each node is a sum or a product of edge terms."""

    def __init__(self, inputs):
        self.layers = [[{"kind": "input", "expr": v} for v in inputs]]
        self.where = {v: (0, k) for k, v in enumerate(inputs)}  # expr -> (layer, index)

    def node_at(self, expr, layer: int) -> int:
        """Index of a node holding ``expr`` at ``layer`` (carried up by identity edges)."""
        l0, k = self.place(expr)
        while l0 < layer:
            key = ("carry", expr, l0 + 1)
            if key not in self.where:
                self.where[key] = (l0 + 1, self._add(l0 + 1, "sum", [[(k, "x", 1, 0, 1, 0)]], 0))
            l0, k = self.where[key]
        return k

    def _add(self, layer, kind, subnodes, bias) -> int:
        while len(self.layers) <= layer:
            self.layers.append([])
        self.layers[layer].append({"kind": kind, "subnodes": subnodes, "bias": bias})
        return len(self.layers[layer]) - 1

    def place(self, expr, key=None):
        """Compile ``expr`` into a node; returns (layer, index). A product of two or more
        non-numeric factors is a multiplication node; anything else a sum node of its terms.
        ``key`` names the node when ``expr`` itself is already placed (e.g. an input)."""
        key = expr if key is None else key
        if key in self.where:
            return self.where[key]
        coeff, rest = _coeff(expr)
        factors = list(rest.args) if rest.is_Mul else []
        if len(factors) >= 2:
            terms = [_edge_term(f) for f in factors]
            terms[0] = terms[0][:4] + (terms[0][4] * coeff,)
            layer = 1 + max(self.place(t[0])[0] for t in terms)
            subnodes = [[(self.node_at(t[0], layer - 1),) + t[1:] + (0,)] for t in terms]
            self.where[key] = (layer, self._add(layer, "mult", subnodes, 0))
            return self.where[key]
        parts = sympy.Add.make_args(expr)
        bias = sum((p for p in parts if p.is_number), sympy.Integer(0))
        terms, used = [], set()
        for part in (p for p in parts if not p.is_number):
            t = _edge_term(part)
            if t[0] in used:  # no second edge between one pair of nodes: the term gets a node
                t = (part, "x", 1, 0, 1)
            used.add(t[0])
            terms.append(t)
        if not terms:
            raise ValueError(f"cannot compile the constant {expr} as a node.")
        layer = 1 + max(self.place(t[0])[0] for t in terms)
        edges = [(self.node_at(t[0], layer - 1),) + t[1:] + (0,) for t in terms]
        self.where[key] = (layer, self._add(layer, "sum", [edges], bias))
        return self.where[key]


def _coeff(expr: sympy.Expr):
    """expr = c * rest with c a number (pi and sqrt(2) included): (c, rest)."""
    if expr.is_Mul:
        nums = [f for f in expr.args if f.is_number]
        return sympy.Mul(*nums), sympy.Mul(*[f for f in expr.args if not f.is_number])
    return sympy.Integer(1), expr


def _edge_term(term: sympy.Expr):
    """term = c * f(a g + b): (g, f's library name, a, b, c)."""
    c, rest = _coeff(term)
    if rest.is_Add:  # a g + b with one g: an edge from g's node (1 + v/c: no node of its own)
        b, a, g = _linear(rest)
        return (g, "x", a, b, c) if not g.is_Add else (rest, "x", 1, 0, c)
    if rest.is_Symbol or rest.is_Mul:
        return rest, "x", 1, 0, c
    if rest.is_Pow:
        base, exp = rest.args
        if exp.is_Float:  # 1.5 -> 3/2
            exp = sympy.nsimplify(exp)
        name = _POWERS.get(exp)
        if name is None:
            raise ValueError(f"cannot compile {rest}: exponent {exp} is not in the library "
                             f"({', '.join(str(e) for e in _POWERS)}).")
        b, a, g = _linear(base)
        return g, name, a, b, c
    name = _FUNCTIONS.get(rest.func)
    if name is None:
        raise ValueError(f"cannot compile {rest}: {rest.func} is not a library function "
                         f"({', '.join(sorted(_FUNCTIONS.values()))}).")
    b, a, g = _linear(rest.args[0])
    return g, name, a, b, c


def _linear(arg: sympy.Expr):
    """arg = a * g + b with numbers a, b: (b, a, g)."""
    parts = sympy.Add.make_args(arg)
    b = sympy.Add(*[p for p in parts if p.is_number])
    rest = sympy.Add(*[p for p in parts if not p.is_number])
    if len(sympy.Add.make_args(rest)) > 1:  # a sum: its own node
        return b, sympy.Integer(1), rest
    a, g = _coeff(rest)
    return b, a, g


def kanpiler(variables, expr, grid: int = 5, k: int = 3, dtype=torch.float64,
             device="cpu") -> MultKAN:
    """A MultKAN whose output is ``expr`` exactly (symbolic edges, spline edges off).

    variables: sympy Symbols (or names) of the inputs, in order; expr: a sympy expression or a
    formula string (parsed without evaluating code). ``grid`` and ``k`` shape the (switched
    off) splines that ``perturb`` can later turn on."""
    variables = [v if isinstance(v, sympy.Symbol) else sympy.Symbol(str(v)) for v in variables]
    if isinstance(expr, str):
        expr = parse_formula(expr, variables)
    if not isinstance(expr, sympy.Expr):
        raise TypeError(f"expr must be a sympy expression or a formula string; got {type(expr).__name__}.")
    unknown = expr.free_symbols - set(variables)
    if unknown:
        raise ValueError(f"expr uses {sorted(map(str, unknown))}, which are not among the variables.")
    if expr.is_number:
        raise ValueError(f"expr {expr} is a constant; kanpiler compiles functions of the variables.")
    net = _Net(variables)
    out = net.place(expr)
    if out[0] == 0:  # the output is an input itself: one identity edge
        out = net.place(expr, key=("output", expr))
    return _build(net, out, variables, grid, k, dtype, device)


def _build(net: _Net, out, variables, grid, k, dtype, device) -> MultKAN:
    out_layer, out_index = out
    layers = net.layers[:out_layer + 1]
    layers[-1] = [layers[-1][out_index]]  # the output node alone
    order = [sorted(range(len(nodes)), key=lambda n: nodes[n]["kind"] == "mult") for nodes in layers]
    pos = [{n: p for p, n in enumerate(o)} for o in order]
    width = [[len(variables), 0]]
    arity = [[]]
    for nodes, o in zip(layers[1:], order[1:]):
        mults = [nodes[n] for n in o if nodes[n]["kind"] == "mult"]
        width.append([len(nodes) - len(mults), len(mults)])
        arity.append([len(n["subnodes"]) for n in mults])
    model = MultKAN(width, grid=grid, k=k, mult_arity=arity, dtype=dtype, device=device,
                    in_vars=[str(v) for v in variables])
    with torch.no_grad():
        for layer in model.layers:
            layer.mask.zero_()
        for l in range(1, len(layers)):
            sub = 0
            for n in order[l]:
                node = layers[l][n]
                for edges in node["subnodes"]:
                    for src, name, a, b, c, d in edges:
                        model.layers[l - 1].set_symbolic(pos[l - 1][src], sub, name,
                                                         (float(a), float(b), float(c), float(d)))
                    sub += 1
                model.node_bias[l - 1][pos[l][n]] = float(node["bias"])
    return model
