-- wrk script: POST the seed walkthrough's body (as CleverTap renders it) to /v1/generate.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Inkit-API-Token"] = "tapink-inkit-token"
wrk.body = [[{
 "merge_parameters": {
   "Name": "Ada Lovelace",
   "email": "ada@example.com",
   "phone number": "+14155550100"
 },
 "template_id": "tmpl_SeedLetter000000000001",
 "description": "test"
}]]
