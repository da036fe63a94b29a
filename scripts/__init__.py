"""The programs of the repository, imported as `hires_studio.scripts` by the tests that check them.

Two of them are for users and run in any ComfyUI install from the pack's folder: `convert_weights.py` and
`api_key.py`. The rest build the development host and write the repository's generated files.
"""
