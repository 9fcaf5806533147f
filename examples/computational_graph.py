"""The computational graph that reverse mode records, walked node by node.

f(x1, x2, x3) = 3 (x1^2 + x2 x3) at (2, 3, 4) is 3 (4 + 12) = 48, with gradient
(6 x1, 3 x3, 3 x2) = (12, 12, 9). The forward pass records one node per operation
(`out.grad_fn`); each node lists the nodes of its inputs in `next_functions`, as (node, 0)
pairs, with None for an input that needs no gradient (the constant 3) and an `AccumulateGrad`
node, whose `.variable` is the leaf tensor, for a leaf. Backward visits the nodes in reverse
topological order, printed below, each after every node that uses its output. The same graph
is then printed as Graphviz DOT text (gpugrad.viz.to_dot); --render draws it to a file.

    python examples/computational_graph.py [--x1 2 --x2 3 --x3 4] [--render graph.svg]
"""

import argparse

import gpugrad
import gpugrad.viz


def reverse_topological(root):
    """The nodes reachable from root, each before the nodes of its inputs (depth-first)."""
    order, seen = [], set()

    def key(node):
        # a leaf may hand out a fresh AccumulateGrad each time: identify it by its tensor
        return id(getattr(node, "variable", node))

    def visit(node):  # post-order: a node after all of its inputs; graphs here are shallow
        if node is None or key(node) in seen:
            return
        seen.add(key(node))
        for child, _ in node.next_functions:
            visit(child)
        order.append(node)

    visit(root)
    return order[::-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x1", type=float, default=2.0)
    parser.add_argument("--x2", type=float, default=3.0)
    parser.add_argument("--x3", type=float, default=4.0)
    parser.add_argument(
        "--render", metavar="PATH", help="draw the graph to PATH (.svg, .png, .pdf); needs Graphviz"
    )
    args = parser.parse_args(argv)

    x1 = gpugrad.tensor(args.x1, requires_grad=True)
    x2 = gpugrad.tensor(args.x2, requires_grad=True)
    x3 = gpugrad.tensor(args.x3, requires_grad=True)
    x1.name, x2.name, x3.name = "x1", "x2", "x3"  # labels for the DOT picture
    out = 3 * (x1**2 + x2 * x3)
    print(f"f({args.x1:g}, {args.x2:g}, {args.x3:g}) = 3 (x1^2 + x2 x3) = {out.item():g}")

    names = {id(x1): "x1", id(x2): "x2", id(x3): "x3"}
    nodes = reverse_topological(out.grad_fn)
    index = {id(getattr(node, "variable", node)): i for i, node in enumerate(nodes)}

    def describe(node):
        if node is None:
            return "None"
        name = node.name().split("::")[-1]  # PyTorch says torch::autograd::AccumulateGrad
        if hasattr(node, "variable"):
            name = f"{name}({names.get(id(node.variable), '?')})"
        return f"[{index[id(getattr(node, 'variable', node))]}] {name}"

    print("graph, in the order backward visits it (each node before its inputs):")
    for node in nodes:
        if hasattr(node, "variable"):
            leaf = node.variable
            print(f"  {describe(node):<24} leaf {names[id(leaf)]} = {leaf.item():g}")
        else:
            inputs = ", ".join(describe(child) for child, _ in node.next_functions)
            print(f"  {describe(node):<24} inputs: {inputs}")

    dot = gpugrad.viz.to_dot(out, name="f")

    out.backward()
    grads = ", ".join(f"{x.grad.item():g}" for x in (x1, x2, x3))
    print(f"gradient (df/dx1, df/dx2, df/dx3) = ({grads})")
    print("the same graph as Graphviz DOT text (render with `dot -Tsvg` or --render):")
    print(dot, end="")
    if args.render:
        try:
            gpugrad.viz.render(out, args.render, name="f")
        except RuntimeError as exc:  # graphviz missing: say how to install it
            parser.exit(1, f"{exc}\n")
        print(f"graph drawn to {args.render}")


if __name__ == "__main__":
    main()
