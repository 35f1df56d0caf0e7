complete -c tr-run -s n -l name -d 'Task name; defaults to the file name of CMD' -r
complete -c tr-run -s f -l force -d 'Run the task even if its inputs are unchanged, and never restore it from a cache'
complete -c tr-run -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-run -s V -l version -d 'Print version'
