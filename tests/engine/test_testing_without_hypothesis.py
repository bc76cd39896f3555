"""`import tinygrad_mnist.testing` without hypothesis says what to install."""

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.slow
def test_importing_testing_without_hypothesis_says_what_to_install():
    script = textwrap.dedent("""
        import sys
        sys.modules["hypothesis"] = None  # as if it were not installed
        try:
            import tinygrad_mnist.testing
        except ModuleNotFoundError as error:
            print(error)
    """)
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60).stdout
    assert "needs hypothesis: pip install hypothesis" in output
    assert "tinygrad-mnist[test]" in output
