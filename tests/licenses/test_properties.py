# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage properties (hypothesis): outputs are valid, normalisation is idempotent,
`and_all` does not depend on order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from license_expression import get_spdx_licensing  # type: ignore[import-untyped]

from auditor.licenses.normalize import FLAVORS, and_all, is_valid, normalize
from auditor.model import NOASSERTION, NONE, Sentinel

_SYMBOLS = [s for s in get_spdx_licensing().known_symbols.values()
            if not s.key.startswith("LicenseRef-")]
LICENSE_IDS = sorted({s.key for s in _SYMBOLS if not s.is_exception})
EXCEPTION_IDS = sorted({s.key for s in _SYMBOLS if s.is_exception})
# names as distributions write them, from the corpus
RAW_NAMES = ["GPLv2+", "GPL-2+", "GPL2", "LGPLv2.1", "BSD", "ASL 2.0", "Public Domain", "PD",
             "Expat", "Artistic", "custom", "MIT-X", "GPL-3.0-with-GCC-exception",
             "Elfutils-Exception", "The-Qt-Company-GPL-Exception-1.0", "PSFv2", "REGCOMP,",
             "The", "GPL-2 with OpenSSL exception", "LGPLv3+_or_GPLv2+", "unRAR", "none"]
OPERATORS = [" AND ", " OR ", " and ", " or ", " & ", " | ", ", and ", " ", " WITH ", " with "]

names = st.one_of(
    st.sampled_from(LICENSE_IDS),
    st.sampled_from(LICENSE_IDS).map(str.lower),
    st.builds(lambda lic, exc: f"{lic} WITH {exc}", st.sampled_from(LICENSE_IDS),
              st.sampled_from(EXCEPTION_IDS)),
    st.sampled_from(RAW_NAMES),
    st.from_regex(r"LicenseRef-[A-Za-z0-9.-]{1,12}", fullmatch=True),
)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """A license expression in any of the surface syntaxes, with random nesting."""
    if depth >= 3 or draw(st.booleans()):
        return draw(names)
    parts = [draw(expressions(depth + 1)) for _ in range(draw(st.integers(2, 4)))]
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from(OPERATORS)) + part
    return f"({text})" if draw(st.booleans()) else text


anything = st.one_of(expressions(), st.text(max_size=80),
                     st.text(alphabet="()&|, ANDORWITHandorwithMITGPL-2.0+", max_size=60))
flavors = st.sampled_from(FLAVORS)


def _ok(expression: object) -> bool:
    return expression in (NOASSERTION, NONE) or is_valid(expression)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(anything, flavors)
def test_every_output_is_valid(raw: str, flavor: str) -> None:
    assert _ok(normalize(raw, flavor=flavor).expression)


@settings(max_examples=400, deadline=None)
@given(anything, flavors)
def test_normalising_a_normalised_expression_is_the_identity(raw: str, flavor: str) -> None:
    first = normalize(raw, flavor=flavor).expression
    if isinstance(first, Sentinel):
        return
    again = normalize(first, flavor="spdx")
    assert again.expression == first
    assert again.method == "exact"
    assert again.unmapped == ()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(expressions(), flavors), max_size=6), st.randoms())
def test_and_all_is_order_independent(items: list[tuple[str, str]], rnd: object) -> None:
    exprs = [normalize(raw, flavor=flavor).expression for raw, flavor in items]
    exprs = [e for e in exprs if not isinstance(e, Sentinel)]
    shuffled = list(exprs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    combined = and_all(exprs)
    assert combined == and_all(shuffled)
    assert combined == and_all(list(reversed(exprs)))
    assert _ok(combined)
    if not isinstance(combined, Sentinel):
        assert and_all([combined]) == combined
        assert normalize(combined, flavor="spdx").expression == combined
