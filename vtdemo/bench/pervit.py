"""``python -m vtdemo bench pervit``: PerViT's peripheral position attention φp — the mean attention distance per
block (mean over heads, in tokens) at the paper's initialisation and in the trained model, with a uniform map's
distance for scale."""
from __future__ import annotations

HELP = "PerViT: φp's mean attention distance per block, initialised and trained"


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="pervit-demo", help="PerViT model id (default pervit-demo)")


def run(args) -> int:
    print("\n".join(bench_pervit(args.model)))
    return 0


def bench_pervit(model_id: str = "pervit-demo") -> list[str]:
    import torch

    from vtdemo.explain.pervit import mean_distance
    from vtdemo.zoo.builders import architecture
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    torch.manual_seed(0)
    models = {"initialised": architecture(card).eval(), "trained": load_model(model_id, device="cpu")}
    with torch.no_grad():
        tables = {name: [mean_distance(p / p.sum(-1, keepdim=True), m.grid).mean()
                         for p in m.position_attention()] for name, m in models.items()}
    grid = models["trained"].grid
    uniform = float(mean_distance(torch.ones(1, 1, grid * grid, grid * grid) / grid ** 2, grid)[0])
    lines = [f"{model_id}: mean attention distance of φp per block (tokens, mean over heads; {grid}×{grid} grid, "
             f"a uniform map: {uniform:.1f})",
             "| block | " + " | ".join(str(i) for i in range(len(tables["trained"]))) + " |",
             "|---|" + "---|" * len(tables["trained"])]
    lines += [f"| {name} | " + " | ".join(f"{v:.1f}" for v in values) + " |" for name, values in tables.items()]
    return lines
