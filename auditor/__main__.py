# SPDX-License-Identifier: Apache-2.0
from .cli.main import main

main()
