"""cfn-lint on the given templates through python3's cfnlint package, for a machine where the
package is installed but its `cfn-lint` command is not on PATH (tests/CMakeLists.txt)."""

import sys

from cfnlint.runner import main

if __name__ == "__main__":
    sys.argv[0] = "cfn-lint"
    sys.exit(main())
