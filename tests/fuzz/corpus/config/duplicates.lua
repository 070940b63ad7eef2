listen = "127.0.0.1:2222"
listen = "x"
targets = {
  a = { type = "ssh", port = 1, ["port"] = 2 },
  a = { f = function() if x then y = 1 elseif z then y = 2 end return { k = 1, k = 2 } end },
  --[==[ a = 3 ]==] s = [[ a = 4 ]],
}
