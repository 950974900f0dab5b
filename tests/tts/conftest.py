from __future__ import annotations

from collections.abc import Iterator

import pytest
from pocketsphinx import Decoder

from tests.tts.speech import make_decoder


@pytest.fixture(scope="session")
def sphinx() -> Iterator[Decoder]:
    yield make_decoder()
