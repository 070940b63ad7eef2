function on_comand(c) return review "x" end
return allow{ mask = { columns = { a = "last4", b = [[hash]] } } }
--[==[ review{ } ]==]
