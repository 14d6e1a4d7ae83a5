"""The Faust patches refuse a Faust release they were not written for, instead of misbehaving."""

import faust
import pytest

from npo_integration.faust_patches import WRITTEN_FOR, check_faust_version


def test_the_installed_faust_is_the_release_the_patches_were_written_for() -> None:
    check_faust_version(faust.__version__)


@pytest.mark.parametrize("other", ["0.16.0", "0.14.9", "1.0.0"])
def test_another_faust_release_is_refused_with_both_versions_named(other: str) -> None:
    with pytest.raises(RuntimeError) as refused:
        check_faust_version(other)
    assert other in str(refused.value) and WRITTEN_FOR in str(refused.value)
