from latentbo.codecs import GrammarCodec
from latentbo.data.check import round_trip_report


def test_round_trip_report_expressions(expressions: list[str]) -> None:
    report = round_trip_report(GrammarCodec("expressions"), expressions[:5000], workers=1)
    assert report["read"] == 5000
    assert report["round_trip_exact"] == 5000
    assert report["round_trip_fraction"] == 1.0


def test_round_trip_report_molecules(molecules: list[str]) -> None:
    report = round_trip_report(GrammarCodec("zinc_smiles"), molecules[:3000], workers=1)
    # every parsed molecule decodes back exactly; skipped ones are counted by reason
    assert report["round_trip_exact"] == report["parsed"]
    assert report["read"] - report["parsed"] == sum(report["failures"].values())
    assert report["round_trip_fraction"] >= 0.9
