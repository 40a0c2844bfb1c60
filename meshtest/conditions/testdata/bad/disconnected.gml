graph [
  node [ id 0 label "eu" ]
  node [ id 1 label "us" ]
  node [ id 2 label "asia" ]
  edge [ source 0 target 1 latency "40 ms" ]
]
