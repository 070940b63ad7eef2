# Copies the auditor page's assets (those present) from SRC to DST.
foreach(name app.js app.css asciinema-player.min.js asciinema-player.css)
  if(EXISTS ${SRC}/${name})
    file(COPY_FILE ${SRC}/${name} ${DST}/${name} ONLY_IF_DIFFERENT)
  endif()
endforeach()
