from __future__ import annotations

from collections.abc import Iterator

import pytest
from pocketsphinx import Decoder

from tests.dialogue.speech import reply_decoder


@pytest.fixture(scope="session")
def replies() -> Iterator[Decoder]:
    yield reply_decoder()
