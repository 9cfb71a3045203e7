"""The login node: accounts, realm list, characters and world tickets over HTTP."""
