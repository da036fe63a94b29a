"""API-format graphs of the requests the pack serves, built from one set of parts: the node helpers
(`building`), the model files and model families (`models`), and one module per API family (`deepimage`,
`stability`, `deepmode`). Pure data and builders, no ComfyUI import.

Both the shipped workflow catalog (`catalog.shipped_workflows`) and the REST layer (`rest`) build from
here, so a shipped file and a graph built for a request can never disagree; neither imports the other.
"""
