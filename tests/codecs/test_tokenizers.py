"""Property tests: arbitrary text never crashes tokenisation or parsing with anything
but the project's InvalidInputError."""

from hypothesis import given, settings
from hypothesis import strategies as st

from latentbo.codecs import CharacterCodec, GrammarCodec
from latentbo.errors import InvalidInputError

EXPR = GrammarCodec("expressions")
ZINC = GrammarCodec("zinc_smiles")
CHAR = CharacterCodec(list("CNOc1()=[]"), 30)
smiles_alphabet = st.text(alphabet="CNOSPFIBrcnos()[]=#-+/\\@H123456789%0 l", max_size=60)
expr_alphabet = st.text(alphabet="x123+*/() sinexp4", max_size=40)


def _encode_or_project_error(codec, text: str) -> None:
    try:
        ids = codec.encode_one(text)
    except InvalidInputError as exc:
        assert exc.text == text and exc.reason
        return
    # when it parses, the derivation decodes back to the canonical text (grammar
    # masks only: semantic masks would repair a grammatical but invalid molecule)
    plain = {"semantic": False} if isinstance(codec, GrammarCodec) else {}
    assert codec.decode(codec.one_hot(codec.encode([text])), **plain) == [codec.canonical(text)]
    assert len(ids) <= codec.max_length


@settings(max_examples=400, deadline=None)
@given(st.one_of(smiles_alphabet, st.text(max_size=40)))
def test_zinc_random_text(text: str) -> None:
    _encode_or_project_error(ZINC, text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(expr_alphabet, st.text(max_size=40)))
def test_expression_random_text(text: str) -> None:
    _encode_or_project_error(EXPR, text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_character_random_text(text: str) -> None:
    _encode_or_project_error(CHAR, text)


def test_smiles_multichar_tokens() -> None:
    assert ZINC.tokenize("ClC(Br)[C@@H]1CC1") == ["Cl", "C", "(", "Br", ")", "[", "C", "@@", "H", "]", "1", "C", "C", "1"]


def test_expression_tokens_without_spaces() -> None:
    assert EXPR.tokenize("sin(x*2)/exp(3)") == ["sin(", "x", "*", "2", ")", "/", "exp(", "3", ")"]
