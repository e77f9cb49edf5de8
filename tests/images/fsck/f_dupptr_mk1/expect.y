** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
224 DUP I=160
** Phase 1b - Rescan For More DUPS
224 DUP I=40
I=40 SHARES 1 FRAGMENTS WITH OTHER FILES
COPY? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
171 files, 472 used, 1519 free (7 frags, 189 blocks, 0.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
