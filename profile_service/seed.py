"""The seed file: customers with their profile attributes and consents (JSON, see `Seed`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from profile_service.models import Seed

DEMO_SEED = Path(__file__).with_name("demo_seed.json")


class SeedError(Exception):
    pass


def load_seed(path: Path) -> Seed:
    try:
        return Seed.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise SeedError(f"{path}: {problems}") from exc
